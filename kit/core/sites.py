"""Sites as the pages show them: the real status, or during a drill the drill's status
(marked `drill`) where one was reported."""
from __future__ import annotations


def shown(db, *, exercise: bool, where: str = "1", params=()) -> list[dict]:
    cursor = db.execute(
        "SELECT s.*, x.position IS NOT NULL AS drill, COALESCE(x.status, s.status) AS status, "
        "COALESCE(x.present, s.present) AS present, COALESCE(x.capacity, s.capacity) AS capacity, "
        "COALESCE(x.needs, s.needs) AS needs, COALESCE(x.updated_at, s.updated_at) AS updated_at, "
        "COALESCE(x.status_at, s.status_at) AS status_at "
        "FROM sites s LEFT JOIN site_exercise_status x ON x.position = s.position AND ? "
        f"WHERE {where} ORDER BY s.position", [int(exercise), *params])
    columns = [d[0] for d in cursor.description]
    # later columns (the drill's) win over the table's own of the same name
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
