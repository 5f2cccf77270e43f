"""Page handlers, one module per audience: thin, they parse input, call queries and render templates."""

from . import gemeenten, info, initiative, partner, search  # noqa: F401
from . import account  # noqa: F401
from . import beheer, correction, submit  # noqa: F401
from . import partner_edit  # noqa: F401
from . import hulp  # noqa: F401
from . import embed  # noqa: F401
