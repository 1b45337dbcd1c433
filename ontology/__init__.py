"""The shipped ontology, SHACL shapes, policies and priors (Turtle), as package data ``arca.ontology``:
read with ``importlib.resources`` (``arca.namespace.ONTOLOGY_DIR``), so a wheel installed anywhere
finds them."""
