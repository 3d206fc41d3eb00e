# The outbox (OutboxMessage, WebhookSecret, AutoReply) became the app `outbox`: its models leave
# this app's state here and enter that app's in `outbox.0001_initial`. The tables stay as they
# are, with their names and rows: nothing is done to the database.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0006_webhook_secret_rotation_encryption"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="WebhookSecret"),
                migrations.DeleteModel(name="AutoReply"),
                migrations.DeleteModel(name="OutboxMessage"),
            ],
            database_operations=[],
        ),
    ]
