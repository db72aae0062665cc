"""BHuman chat: `kb/v2/chat`, `persona/chats` and `persona/messages/{chat_id}`.

Answers come from the persona's pages (indexed by the real job), through the local responder, or through
an OpenAI-compatible server when LLM_BASE_URL names one (tests/knowledge/llm_server.py here).
"""

import pytest

from knowledge.models import Conversation, Message
from knowledge.responders import DONT_KNOW
from tests import factories
from tests.dialects.bhuman.test_knowledge import PAGES, embeddings_cached, store  # noqa: F401  (autouse)
from tests.helpers import assert_bhuman_error
from tests.knowledge.llm_server import LLMServer

pytestmark = pytest.mark.django_db

CHAT = "/persona/api/kb/v2/chat"
CHATS = "/persona/api/persona/chats"
MESSAGES = "/persona/api/persona/messages"


@pytest.fixture
def persona(workspace):
    return factories.person_create(workspace=workspace, name="Maya", with_photo=False)


@pytest.fixture
def pages(api_client, persona, django_capture_on_commit_callbacks) -> dict[str, str]:
    """The bakery's pages, stored and indexed: title → page id."""
    ids = store(api_client, django_capture_on_commit_callbacks)
    return {page["title"]: page_id for page, page_id in zip(PAGES, ids, strict=True)}


def chat(client, message: str, *, user_id="user123", context="Context for the chat", instance_id=None, **extra) -> dict:
    body = {"chat_data": {"user_id": user_id, "message": message, "context": context, **extra}}
    if instance_id is not None:
        body["instance_id"] = instance_id
    response = client.post(CHAT, body, format="json")
    assert response.status_code == 200, response.content
    payload = response.json()
    assert list(payload) == ["status", "chat_id", "response", "sources"] and payload["status"] == "success"
    return payload


def test_the_seed_body_starts_a_chat(api_client, persona, pages):
    seed = {
        "chat_data": {"user_id": "user123", "message": "Hello, I need help with...", "context": "Context for the chat"}
    }

    response = api_client.post(CHAT, seed, format="json")

    assert response.status_code == 200, response.content
    payload = response.json()
    conversation = Conversation.objects.get()
    assert payload == {"status": "success", "chat_id": conversation.public_id, "response": DONT_KNOW, "sources": []}
    assert payload["chat_id"].startswith("chat_")
    assert (conversation.person, conversation.user_id) == (persona, "user123")


@pytest.mark.parametrize(
    ("question", "title", "fact"),
    [
        ("How much is postage to America?", "Delivery and shipping", "£14"),
        ("When did Maya open the bakery?", "About Maya", "2015"),
        ("What does the grey liquid on my starter mean?", "Sourdough starter care", "hungry"),
    ],
)
def test_an_answer_states_the_fact_and_names_its_page(api_client, pages, question, title, fact):
    payload = chat(api_client, question)

    assert fact in payload["response"]
    assert payload["sources"][0] == {"page_id": pages[title], "title": title}
    assert f"{title} (page {pages[title]})" in payload["response"]  # the text names it too
    assert all(source["page_id"] == pages[source["title"]] for source in payload["sources"])


@pytest.mark.parametrize("question", ["What is the capital of Mongolia?", "Who won the football world cup in 1966?"])
def test_an_unrelated_question_is_i_dont_know_without_sources(api_client, pages, question):
    payload = chat(api_client, question)

    assert (payload["response"], payload["sources"]) == (DONT_KNOW, [])


def test_chat_id_continues_the_chat_and_the_history_keeps_both_turns(api_client, persona, pages):
    first = chat(api_client, "How much is postage to America?")
    second = chat(api_client, "When did Maya open the bakery?", chat_id=first["chat_id"])
    other_user = chat(api_client, "What is the capital of Mongolia?", user_id="user456")

    assert second["chat_id"] == first["chat_id"] and other_user["chat_id"] != first["chat_id"]
    assert Conversation.objects.count() == 2

    listed = api_client.get(CHATS).json()
    assert listed["status"] == "success"
    assert listed["pagination"] == {"total": 2, "page": 1, "pages": 1}
    assert [c["chat_id"] for c in listed["chats"]] == [other_user["chat_id"], first["chat_id"]]  # newest first
    assert listed["chats"][1] == {
        "chat_id": first["chat_id"],
        "user_id": "user123",
        "messages": [
            "How much is postage to America?", first["response"],
            "When did Maya open the bakery?", second["response"],
        ],
    }  # fmt: skip
    assert listed["chats"][0]["messages"] == ["What is the capital of Mongolia?", DONT_KNOW]

    only = api_client.get(CHATS, {"user_id": "user456"}).json()
    assert [c["chat_id"] for c in only["chats"]] == [other_user["chat_id"]]
    assert api_client.get(CHATS, {"user_id": "nobody"}).json()["chats"] == []
    paged = api_client.get(CHATS, {"limit": 1, "page": 2}).json()
    assert [c["chat_id"] for c in paged["chats"]] == [first["chat_id"]]
    assert paged["pagination"] == {"total": 2, "page": 2, "pages": 2}


def test_messages_of_a_chat_in_order_with_roles_and_sources(api_client, pages):
    first = chat(api_client, "How much is postage to America?")
    second = chat(api_client, "What is the capital of Mongolia?", chat_id=first["chat_id"])

    response = api_client.get(f"{MESSAGES}/{first['chat_id']}")

    assert response.status_code == 200, response.content
    payload = response.json()
    assert list(payload) == ["status", "messages", "details"] and payload["status"] == "success"
    assert payload["messages"] == [
        "How much is postage to America?", first["response"], "What is the capital of Mongolia?", DONT_KNOW,
    ]  # fmt: skip
    details = payload["details"]
    assert [(d["role"], d["content"]) for d in details] == [
        ("user", payload["messages"][0]), ("assistant", first["response"]),
        ("user", payload["messages"][2]), ("assistant", second["response"]),
    ]  # fmt: skip
    assert [d["sources"] for d in details[::2]] == [[], []] and details[3]["sources"] == []
    cited = details[1]["sources"]
    assert cited[0]["title"] == "Delivery and shipping" and str(cited[0]["page_id"]) == pages["Delivery and shipping"]
    assert all(d["created_at"] for d in details)


def test_another_workspaces_or_an_unknown_chat_is_404(api_client, other_client, other_workspace, pages):
    factories.person_create(workspace=other_workspace, name="Bob", with_photo=False)
    theirs = chat(other_client, "Hello?")["chat_id"]
    before = Message.objects.count()

    for chat_id in (theirs, "chat_doesnotexist"):
        assert_bhuman_error(api_client.get(f"{MESSAGES}/{chat_id}"), 404, "not found")
    # Not a chat id at all: no query is made (on PostgreSQL a NUL in the lookup was a 500).
    for chat_id in ("chat%00x", "a%20b", "x" * 41):
        assert_bhuman_error(api_client.get(f"{MESSAGES}/{chat_id}"), 404)
        response = api_client.post(
            CHAT, {"chat_data": {"user_id": "u", "message": "Hi", "chat_id": chat_id}}, format="json"
        )
        assert_bhuman_error(response, 404, "not found")

    assert Message.objects.count() == before
    assert [c["chat_id"] for c in api_client.get(CHATS).json()["chats"]] == []
    assert [c["chat_id"] for c in other_client.get(CHATS).json()["chats"]] == [theirs]


def test_instance_id_chats_with_that_persona_and_its_knowledge_only(
    api_client, workspace, persona, pages, django_capture_on_commit_callbacks
):
    other = factories.person_create(workspace=workspace, name="Tunde", with_photo=False)
    van = [{"title": "Tunde's van", "content": "Tunde drives the blue delivery van and starts his round at 5 a.m."}]
    store(api_client, django_capture_on_commit_callbacks, van, instance_id=str(other.pk))

    theirs = chat(api_client, "What time does Tunde start his van round?", instance_id=str(other.pk))
    mine = chat(api_client, "What time does Tunde start his van round?")
    no_bakery = chat(api_client, "How much is postage to America?", instance_id=str(other.pk))

    assert "5 a.m." in theirs["response"] and [s["title"] for s in theirs["sources"]] == ["Tunde's van"]
    assert Conversation.objects.get(public_id=theirs["chat_id"]).person == other
    assert (mine["response"], no_bakery["response"]) == (DONT_KNOW, DONT_KNOW)


def test_a_chat_body_of_the_wrong_shape_is_400_naming_the_field(api_client, persona):
    for body, field in [
        ({}, "chat_data: This field is required."),
        ({"chat_data": {"message": "Hi"}}, "chat_data.user_id: This field is required."),
        ({"chat_data": {"user_id": "u"}}, "chat_data.message: This field is required."),
        ({"chat_data": {"user_id": "u", "message": ""}}, "chat_data.message:"),
        ({"chat_data": {"user_id": 5, "message": "Hi"}}, "chat_data.user_id:"),
        ({"chat_data": {"user_id": "u", "message": "Hi", "context": 1}}, "chat_data.context:"),
        ({"chat_data": {"user_id": "u", "message": "Hi"}, "instance_id": 5}, "instance_id:"),
    ]:
        assert_bhuman_error(api_client.post(CHAT, body, format="json"), 400, field)
    unknown = {"chat_data": {"user_id": "u", "message": "Hi"}, "instance_id": "x"}
    assert_bhuman_error(api_client.post(CHAT, unknown, format="json"), 404, "instance_id: no instance with id 'x'.")
    assert not Conversation.objects.exists()


# --- a model server -------------------------------------------------------------------------------


@pytest.fixture
def llm(settings):
    with LLMServer(reply="Postage to the United States is £14 [1].") as server:
        settings.LLM_BASE_URL = server.url
        settings.LLM_API_KEY = ""
        yield server


def test_with_a_model_server_the_passages_are_sent_and_its_reply_is_the_answer(api_client, pages, llm):
    payload = chat(api_client, "How much is postage to America?")

    assert payload["response"] == "Postage to the United States is £14 [1]."
    assert payload["sources"][0] == {"page_id": pages["Delivery and shipping"], "title": "Delivery and shipping"}
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    sent = "\n".join(message["content"] for message in request.json["messages"])
    assert "International delivery to the United States and Canada costs £14" in sent
    assert f"Delivery and shipping (page {pages['Delivery and shipping']})" in sent
    assert "Question: How much is postage to America?" in sent
    assert "You are Maya." in sent and "Context for the chat" in sent


def test_with_a_model_server_nothing_relevant_asks_no_model(api_client, pages, llm):
    payload = chat(api_client, "What is the capital of Mongolia?")

    assert (payload["response"], payload["sources"]) == (DONT_KNOW, [])
    assert llm.requests == []


@pytest.mark.parametrize("status", [401, 429, 500])
def test_a_failing_model_is_replaced_by_the_local_answer_not_a_500(api_client, pages, llm, status):
    """One rule for chat and suggestions: the local responder answers when the configured model fails."""
    llm.fail_next(status)

    payload = chat(api_client, "How much is postage to America?")

    assert "£14" in payload["response"] and "[1]" not in payload["response"]  # the local answer, not the model's
    assert payload["sources"][0]["page_id"] == pages["Delivery and shipping"]
    assert len(llm.requests) == 1
