"""The mail tests test the pure `sportello.mail` package: they run with or without Django
(`pytest -p no:django tests/mail`). The offline real-world corpora are the `corpora` fixture of
tests/conftest.py; intake (mailboxes, IMAP, the MTA endpoint) is tested in tests/channels."""
