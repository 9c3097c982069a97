from patron.errors import Conflict, NotFound


class NoProgram(Conflict):
    title = "No program published"
    type_slug = "no-program"

    def __init__(self) -> None:
        super().__init__("this shop has no published program yet: PUT /v1/program first")


class ProgramChanged(Conflict):
    title = "Program changed"
    type_slug = "program-changed"
    default_field = "version"


class NoDraft(NotFound):
    title = "No draft"
    type_slug = "no-draft"
    default_field = "draft"

    def __init__(self) -> None:
        super().__init__(
            "this shop has no draft of its program: save one with PUT /v1/program?draft=true"
        )


class NoSuchVersion(NotFound):
    title = "No such version"
    type_slug = "no-such-version"
    default_field = "version"
