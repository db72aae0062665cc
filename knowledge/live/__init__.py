"""Live conversations: a visitor talks with a replica over WebRTC (docs/LIVE.md)."""
