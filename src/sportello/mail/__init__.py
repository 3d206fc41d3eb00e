"""E-mail in pure Python (no Django): parsing raw RFC 5322 messages best-effort
(`parse`), telling automatic and bulk mail and bounces apart (`classify`), splitting quoted
history from new text (`quotes`), and our identifiers in headers (`ids`: Message-IDs, subject
tokens, signed reply addresses). The Django side lives in `sportello.channels` (mailboxes,
ingestion through the pipeline, IMAP polling) and `sportello.outbox` (sending)."""
