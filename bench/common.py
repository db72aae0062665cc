"""Helpers the benchmarks share: the machine's CPU model and database administration."""

from pathlib import Path


def cpu_model() -> str:
    """The CPU's name as /proc/cpuinfo gives it ("unknown" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def admin_execute(server_url: str, *statements: str) -> list:
    """Run statements on the server's `postgres` database, outside any transaction (CREATE/DROP DATABASE)."""
    import psycopg

    rows = []
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
    return rows
