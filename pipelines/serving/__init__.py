"""TensorFlow Serving from the user's side: the server command and model config (server), and
a client that builds requests from readable inputs and reads the answers (client)."""
