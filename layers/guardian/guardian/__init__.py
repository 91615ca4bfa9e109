"""Studio Cost Guardian core: shipped as a Lambda layer, shared by every function and the CLI."""

__version__ = "0.1.0"
