"""The taskchat reference server: a trio Socket.IO v5 / Engine.IO v4 server and the chat app."""
