"""Code shared by every Basira service: written once, imported everywhere."""
