"""The static half: read model source with libcst, never import or run it.

``source -> extract (sketches) -> analyze (runs) -> rules (findings)``; see DESIGN.md.
"""
