"""The radio edge: the Meshtastic link, the volunteers' text commands, the mesh service."""
