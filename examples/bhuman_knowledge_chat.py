"""BHuman Persona: an instance, pages stored in its knowledge base, wait until indexed, chat, sources.

Follows the seed "Persona API Docs" (bhuman-persona-a/-b): the Client Secret sent bare in
`Authorization`, paths under `/persona/api`, `POST /api/instance` with `instance_data`,
`POST /api/kb/store-pages` with `pages`, `GET /api/kb/training-data` (each item's `status` says when
it is indexed), `POST /api/kb/v2/chat` with `chat_data` and `DELETE /api/instance`. `instance_id`
on the KB and chat calls is this server's extension: it names the instance made here, not the default.
"""

import requests
from _client import API_KEY, BASE_URL, check, expect, poll

HEADERS = {"Authorization": API_KEY}
API = f"{BASE_URL}/persona/api"
PAGES = [  # the seed's page shape: title, content, optional metadata
    {"title": "Opening hours", "content": "The Riverside Bakery opens at 7 am, Monday to Saturday; closed on Sundays."},
    {
        "title": "Sourdough",
        "content": "Our sourdough is fermented for 36 hours with a rye starter named Clarence, born in 2009.",
        "metadata": {"author": "Head baker", "date": "2024-05-01"},
    },
]
INSTANCE = {"name": "Bakery assistant", "description": "Answers questions about the bakery", "configuration": {}}

instance = expect(requests.post(f"{API}/instance", headers=HEADERS, json={"instance_data": INSTANCE}, timeout=30), 201)
instance_id = instance["instance_id"]
print(f"Created instance {instance_id}")

stored = expect(
    requests.post(
        f"{API}/kb/store-pages", headers=HEADERS, json={"pages": PAGES, "instance_id": instance_id}, timeout=60
    ),
    201,
)
check(stored["status"] == "success" and len(stored["page_ids"]) == len(PAGES), f"pages stored: {stored}")
print(f"Stored {len(PAGES)} pages: {stored['message']}")


def statuses() -> set[str]:
    """The indexing status of the pages stored above: pending, indexed or failed."""
    query = {"instance_id": instance_id}
    body = expect(requests.get(f"{API}/kb/training-data", headers=HEADERS, params=query, timeout=30), 200)
    return {item["status"] for item in body["training_data"] if item["id"] in stored["page_ids"]}


found = poll(statuses, done=lambda seen: "pending" not in seen, label="indexing")
check(found == {"indexed"}, f"every page indexed: {found}")
print("Both pages are indexed")

question = "How long is the sourdough fermented, and what is the starter called?"
chat = expect(
    requests.post(
        f"{API}/kb/v2/chat",
        headers=HEADERS,
        json={
            "chat_data": {"user_id": "user123", "message": question, "context": "A customer at the counter"},
            "instance_id": instance_id,
        },
        timeout=120,
    ),
    200,
)
check(chat["status"] == "success" and chat["chat_id"] and chat["response"], f"an answer: {chat}")
check("Sourdough" in [source["title"] for source in chat["sources"]], f"the page is a source: {chat['sources']}")
print(f"Q: {question}\nA: {chat['response'].strip()}")
print("The sources field: " + ", ".join(f"{source['title']} (page {source['page_id']})" for source in chat["sources"]))

deleted = expect(
    requests.delete(f"{API}/instance", headers=HEADERS, json={"instance_id": instance_id}, timeout=30), 200
)
check(deleted["status"] == "success", f"the instance deleted: {deleted}")
print(f"Deleted instance {instance_id} with its knowledge and chats")
