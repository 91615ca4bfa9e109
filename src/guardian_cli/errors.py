"""What a command refuses."""


class InputError(Exception):
    """Input the user gave that cannot be used: printed as a one-line message, exit status 2."""
