"""The static half: read model source (stdlib ``ast``; libcst for GCK004), never import or
run it.

``source -> extract (sketches) -> analyze (runs) -> rules (findings)``; see DESIGN.md.
"""
