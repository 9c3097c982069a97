from patron.errors import Conflict


class NoProgram(Conflict):
    title = "No program published"
    type_slug = "no-program"

    def __init__(self) -> None:
        super().__init__("this shop has no published program yet: PUT /v1/program first")


class ProgramChanged(Conflict):
    title = "Program changed"
    type_slug = "program-changed"
    default_field = "version"
