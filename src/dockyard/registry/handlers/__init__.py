"""The distribution API's handlers, one module per resource; routing is in api.py."""
