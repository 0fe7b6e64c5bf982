"""Code shared by the host and every run image: safe file access, atomic writes and the output comparison that runs on both sides."""
