"""Where questions come in and answers go out, protocol only: HTTP routers, the WebSocket stream,
VoiceXML, the hotline, pages and the kiosk."""
