"""The package version, in a leaf module so every layer can read it.

Importing it from the root package instead would make a low layer depend on
``overthink/__init__.py``, whose lazy ``overthink.load`` reaches up into ``interop``.
"""

__version__ = "0.1.0"
