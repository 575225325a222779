from tests.push_project import applied_push_project, db, push_project

__all__ = ["applied_push_project", "db", "push_project"]
