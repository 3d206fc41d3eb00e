# The e-mails of a ticket's replies are found by the reply's id in their payload (the ticket page,
# `outbox.services.delivery_states`): an index on that expression, so a page no longer
# reads the whole outbox.

import sportello.outbox.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('outbox', '0001_initial'),
        ('tickets', '0015_fts_insert_trigger'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='outboxmessage',
            index=models.Index(sportello.outbox.models.ReplyMessageId(), name='outbox_email_reply'),
        ),
    ]
