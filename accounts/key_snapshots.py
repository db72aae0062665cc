"""A key's identity as a few plain columns, so authentication can skip the database.

Only what a request needs is kept: ids, the workspace's plan, the user's flags. Instances are
rebuilt with `from_db`, so every other field is deferred and read fresh from the database if
anything asks for it (a credit balance, say), and a `save()` writes only the loaded fields.
"""

from accounts.models import ApiKey, User, Workspace


def _in_model_order(model, names: set[str]) -> tuple[str, ...]:
    """`from_db` pairs partial values with the model's concrete fields in declaration order."""
    return tuple(field.attname for field in model._meta.concrete_fields if field.attname in names)


FIELDS = {
    "api_key": (ApiKey, _in_model_order(ApiKey, {"id", "workspace_id", "user_id", "name", "prefix"})),
    "workspace": (Workspace, _in_model_order(Workspace, {"id", "name", "owner_id", "plan"})),
    "user": (User, _in_model_order(User, {"id", "email", "is_active", "is_staff", "is_superuser"})),
}


def api_key_snapshot(api_key: ApiKey) -> dict:
    objects = {"api_key": api_key, "workspace": api_key.workspace, "user": api_key.user}
    return {name: [getattr(objects[name], field) for field in fields] for name, (_, fields) in FIELDS.items()}


def api_key_from_snapshot(snapshot: dict) -> ApiKey:
    """Fresh instances per request: nothing is shared between requests or threads."""
    built = {name: model.from_db("default", fields, snapshot[name]) for name, (model, fields) in FIELDS.items()}
    api_key = built["api_key"]
    api_key.workspace, api_key.user = built["workspace"], built["user"]
    return api_key
