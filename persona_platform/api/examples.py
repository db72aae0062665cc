"""Request and answer examples from the vendors' own documents, by operation id, in one place.

Each example is the one the vendor's document shows for the call, with ids in this server's formats
(TwinTone's ids are numbers as strings, influgen's `char_` + a ULID) and the fields this server adds to
an answer where the document leaves them out. `attach_examples`, a drf-spectacular postprocessing hook,
writes them into the document; tests check that every operation named here exists and that every example
is valid against its operation's schema.
"""

CHARACTER_ID = "char_01HZX6FQJ5N6E7T2M3A4B5C6D7"

MILA = {
    "name": "Mila Hart",
    "niche": "fitness",
    "appearance": {"age_range": "25-34", "aesthetic": "editorial athleisure"},
    "identity": {"location": "Los Angeles", "occupation": "Pilates coach"},
    "personality": {"tone": "confident"},
    "style": {"presets": ["soft-luxe"]},
    "reference_images": ["https://cdn.example.com/reference/mila-front.jpg"],
    "settings": {"autopilot": False},
    "talking_head_enabled": False,
}

ALEX_CHEN = {
    "id": 3,
    "name": "Alex Chen",
    "description": "Tech startup founder specializing in AI",
    "photo_url": "https://storage.twin.actor/persons/3/photo.jpg",
    "has_voice": False,
    "voice_provider": None,
    "voice_id": None,
    "company_id": None,
    "user_id": 42,
    "created_at": "2024-03-20T10:00:00Z",
    "updated_at": "2024-03-20T10:00:00Z",
}

# The seed's answer, with the profile fields and timestamps this server returns beside it.
MILA_CREATED = {
    "id": CHARACTER_ID,
    "name": "Mila Hart",
    "niche": "fitness",
    "reference_images": ["https://cdn.example.com/reference/mila-front.jpg"],
    "autopilot": False,
    "face_consistency_tier": "ip_adapter",
    "lora_training_status": "none",
    "content_count": 0,
    "last_post_date": None,
    "follower_count": 0,
    "is_default": False,
    "appearance": MILA["appearance"],
    "identity": MILA["identity"],
    "personality": MILA["personality"],
    "style": MILA["style"],
    "settings": MILA["settings"],
    "talking_head_enabled": False,
    "photo_url": "https://cdn.example.com/reference/mila-front.jpg",
    "created_at": "2024-05-01T12:00:00Z",
    "updated_at": "2024-05-01T12:00:00Z",
}

INSTANCE = {
    "instance_data": {
        "name": "PersonaName",
        "description": "A detailed description of the persona",
        "configuration": {"setting1": "value1", "setting2": "value2"},
    }
}
INSTANCE_CREATED = {"status": "success", "message": "Instance created successfully", "instance_id": "67890"}
VOICE_ADDED = {"status": "success", "message": "Voice profile added successfully", "voice_id": "12345"}

# operationId → {"request": body, "responses": {status: body}}; JSON bodies only.
EXAMPLES: dict[str, dict] = {
    # twin.actor Persons (seed: twin-actor-persons)
    "persons_person_list_post": {
        "request": {
            "name": "Alex Chen",
            "description": "Tech startup founder specializing in AI",
            "photo_base64": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U",
        },
        "responses": {"201": ALEX_CHEN},
    },
    "persons_person_detail_get": {"responses": {"200": {**ALEX_CHEN, "id": 1, "name": "Alex Chen"}}},
    "persons_person_detail_put": {
        "request": {"name": "Alex Chen Jr.", "description": "Updated bio with new role"},
        "responses": {
            "200": {**ALEX_CHEN, "id": 1, "name": "Alex Chen Jr.", "description": "Updated bio with new role"}
        },
    },
    # influgen (seed: influgen-characters)
    "influgen_character_list_post": {"request": MILA, "responses": {"201": {"character": MILA_CREATED}}},
    "influgen_character_detail_get": {"responses": {"200": {"character": MILA_CREATED}}},
    "influgen_lora_train_post": {
        "request": {"base_model": "fal-ai/flux-lora", "training_steps": 1200, "lora_rank": 16},
    },
    "influgen_voice_clone_post": {
        "request": {
            "name": "Mila Voice",
            "description": "Warm luxury wellness narrator",
            "sample_urls": ["https://cdn.example.com/audio/mila-1.mp3", "https://cdn.example.com/audio/mila-2.mp3"],
            "stability": 0.55,
            "similarity_boost": 0.8,
            "style": 0.25,
            "use_speaker_boost": True,
        },
    },
    # TwinTone (seed: twintone-video-agents-v1)
    "twintone_video_list_post": {
        "request": {"replica_id": "123", "script": "Hello world!", "name": "My First Video"},
        "responses": {"201": {"id": "456", "status": "processing", "created_at": "2024-05-01T12:00:00Z"}},
    },
    "twintone_video_detail_patch": {
        "request": {"name": "My First Video"},
        "responses": {
            "200": {"id": "456", "name": "My First Video", "status": "ready", "updated_at": "2024-05-01T12:05:00Z"}
        },
    },
    "twintone_conversation_detail_post": {
        "responses": {"200": {"id": "31", "status": "ended", "ended_at": "2024-05-01T12:30:00Z"}},
    },
    "twintone_speech_list_post": {
        "request": {"text": "Hello world!", "persona_id": "12", "name": "Greeting"},
        "responses": {"201": {"id": "789", "status": "processing", "created_at": "2024-05-01T12:00:00Z"}},
    },
    "twintone_speech_detail_patch": {"request": {"name": "Greeting"}},
    "twintone_persona_list_post": {
        "request": {
            "name": "Ava",
            "description": "A calm product guide",
            "voice_settings": {"pitch": 1.0, "speed": 1.0},
        },
        "responses": {
            "201": {
                "id": "12",
                "name": "Ava",
                "description": "A calm product guide",
                "created_at": "2024-05-01T12:00:00Z",
            }
        },
    },
    "twintone_persona_detail_patch": {"request": {"name": "Updated Name", "description": "New description"}},
    "twintone_conversation_list_post": {
        "request": {"replica_id": "123", "name": "Support call"},
        "responses": {
            "201": {
                "id": "31",
                "replica_id": "123",
                "status": "active",
                "created_at": "2024-05-01T12:00:00Z",
                "conversation_url": "https://live.example.com/live/conversations/31/#token=eyJjb252ZXJzYXRpb24iOjMxfQ:1v0",
                "webrtc_offer_url": "https://live.example.com/live/conversations/31/offer",
                "conversation_token": "eyJjb252ZXJzYXRpb24iOjMxfQ:1v0",
            }
        },
    },
    # BHuman Persona (seeds: bhuman-persona-a, bhuman-persona-b)
    "bhuman_admin_instance_post": {"request": INSTANCE, "responses": {"201": INSTANCE_CREATED}},
    "bhuman_instance_post": {"request": INSTANCE, "responses": {"201": INSTANCE_CREATED}},
    "bhuman_instance_delete": {
        "request": {"instance_id": "67890"},
        "responses": {"200": {"status": "success", "message": "Instance deleted successfully"}},
    },
    "bhuman_admin_voice_post": {
        "request": {
            "voice_data": {
                "language": "en",
                "tone": "friendly",
                "pitch": "medium",
                "sample_audio": "base64_encoded_audio",
            }
        },
        "responses": {"201": VOICE_ADDED},
    },
    "bhuman_admin_video_post": {
        "request": {
            "video_data": {
                "file": "base64_encoded_video",
                "title": "Introduction Video",
                "description": "A brief introduction video",
                "duration": 120,
                "resolution": "1080p",
            }
        },
    },
    "bhuman_chats_get": {
        "responses": {
            "200": {
                "status": "success",
                "chats": [{"chat_id": "chat123", "user_id": "user123", "messages": ["Hello", "How can I help you?"]}],
                "pagination": {"total": 1, "page": 1, "pages": 1},
            }
        },
    },
    "bhuman_voice_training_url_get": {"responses": {"200": {"training_url": "https://example.com/training-data"}}},
    "bhuman_voice_generate_post": {
        "request": {
            "config": None,
            "names": [],
            "training_urls": ["https://example.com/training-data"],
            "use_prosody": False,
        },
        "responses": {"201": {**VOICE_ADDED, "message": "Voice generated successfully"}},
    },
    "bhuman_auto_prompts_post": {
        "request": {"data": {"topics": ["topic1", "topic2"], "context": "Additional context for prompt generation"}},
        "responses": {"200": {"status": "success", "prompts": ["Generated prompt 1", "Generated prompt 2"]}},
    },
    "bhuman_store_pages_post": {
        "request": {
            "pages": [
                {
                    "title": "Page Title",
                    "content": "Page content here",
                    "metadata": {"author": "Author Name", "date": "2024-05-01"},
                }
            ]
        },
        "responses": {"201": {"status": "success", "message": "Pages stored successfully", "page_ids": ["1"]}},
    },
    "bhuman_stream_pages_post": {
        "request": {
            "stream_data": {
                "stream_id": "stream123",
                "pages": [
                    {
                        "title": "Page Title",
                        "content": "Page content here",
                        "metadata": {"author": "Author Name", "date": "2024-05-01"},
                    }
                ],
            }
        },
    },
    "bhuman_review_data_post": {
        "request": {"review_data": {"articles": ["article1", "article2"], "notes": ["note1", "note2"]}},
        "responses": {"202": {"status": "success", "message": "Data submitted for review", "review_ids": ["1", "2"]}},
    },
    "bhuman_training_data_put": {
        "request": {"training_data": {"id": "1", "content": "Updated training data content"}},
        "responses": {"200": {"status": "success", "message": "Training data updated successfully"}},
    },
    "bhuman_training_data_item_delete": {
        "responses": {"200": {"status": "success", "message": "Training data deleted successfully"}},
    },
    "bhuman_chat_post": {
        "request": {
            "chat_data": {
                "user_id": "user123",
                "message": "Hello, I need help with...",
                "context": "Context for the chat",
            }
        },
        "responses": {
            "200": {
                "status": "success",
                "chat_id": "chat123",
                "response": "How can I assist you today?",
                "sources": [{"page_id": "1", "title": "Page Title"}],
            }
        },
    },
    "bhuman_chat_messages_get": {
        "responses": {
            "200": {
                "status": "success",
                "messages": ["Hello", "How can I help you?"],
                "details": [
                    {"role": "user", "content": "Hello", "sources": [], "created_at": "2024-05-01T12:00:00Z"},
                    {
                        "role": "assistant",
                        "content": "How can I help you?",
                        "sources": [],
                        "created_at": "2024-05-01T12:00:01Z",
                    },
                ],
            }
        },
    },
    "bhuman_training_data_get": {
        "responses": {
            "200": {
                "status": "success",
                "training_data": [
                    {"id": "1", "title": "Page Title", "content": "Training data content here", "status": "indexed"},
                    {"id": "2", "title": "Notes", "content": "More training data content", "status": "indexed"},
                ],
                "pagination": {"total": 2, "page": 1, "pages": 1},
            }
        },
    },
}


def attach_examples(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: each operation's examples, on its JSON request and answers."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            examples = EXAMPLES.get(operation.get("operationId"), {})
            if "request" in examples:
                media = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if media is not None:
                    media["example"] = examples["request"]
            for status, body in examples.get("responses", {}).items():
                media = operation["responses"].get(status, {}).get("content", {}).get("application/json")
                if media is not None:
                    media["example"] = body
    return result
