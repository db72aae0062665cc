"""PostgreSQL only: the GIN index for full-text search and, where the server has pgvector, the
vector column and its HNSW index. Other databases search in process (see knowledge.retrieval)."""

from django.db import migrations, transaction

DIMENSIONS = 384


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS knowledge_chunk_search_gin ON knowledge_knowledgechunk USING gin (search_vector)"
        )
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if cursor.fetchone() is None:
            return
        try:
            with transaction.atomic(using=connection.alias):  # a savepoint: no privilege, no pgvector
                cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except Exception:
            return
        cursor.execute(
            f"ALTER TABLE knowledge_knowledgechunk ADD COLUMN IF NOT EXISTS embedding_vector vector({DIMENSIONS})"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS knowledge_chunk_embedding_hnsw ON knowledge_knowledgechunk "
            "USING hnsw (embedding_vector vector_cosine_ops)"
        )


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS knowledge_chunk_search_gin")
        cursor.execute("DROP INDEX IF EXISTS knowledge_chunk_embedding_hnsw")
        cursor.execute("ALTER TABLE knowledge_knowledgechunk DROP COLUMN IF EXISTS embedding_vector")


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
