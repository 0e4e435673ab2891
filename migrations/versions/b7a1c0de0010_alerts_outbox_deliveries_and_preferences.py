"""alerts outbox, deliveries and preferences (issue 16)

The e-mail outbox (outbox_messages) becomes channel-neutral: notifications to one
recipient, with one delivery per channel and target. Pending e-mails of the last two days
become notifications to the staff who had an address and wanted that kind; the e-mail
flags of staff_emails become e-mail preferences.

Revision ID: b7a1c0de0010
Revises: b7a1c0de0009
Create Date: 2026-12-06 16:40:00

"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7a1c0de0010'
down_revision = 'b7a1c0de0009'
branch_labels = None
depends_on = None

VILLAGE_TEAM = {'team_member', 'village_leader'}
ACTING = VILLAGE_TEAM | {'commune_police', 'commune_committee'}


def upgrade():
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('fanned_out_at', sa.DateTime(), nullable=True),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('user_id IS NOT NULL OR tip_id IS NOT NULL', name=op.f('ck_notifications_recipient')),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_notifications_tip_id_tips'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_id_read_at', ['user_id', 'read_at'], unique=False)
        batch_op.create_index('ix_notifications_fanned_out_at', ['fanned_out_at'], unique=False)
        batch_op.create_index('ix_notifications_tip_id_kind', ['tip_id', 'kind'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed', 'dead')", name=op.f('ck_deliveries_delivery_state')),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_deliveries_notification_id_notifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_notification_id'), ['notification_id'], unique=False)
        batch_op.create_index('ix_deliveries_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)

    op.create_table('alert_preferences',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('new_tips', sa.Boolean(), nullable=False),
    sa.Column('urgent_tips', sa.Boolean(), nullable=False),
    sa.Column('tipster_replies', sa.Boolean(), nullable=False),
    sa.Column('escalations', sa.Boolean(), nullable=False),
    sa.Column('quiet_from', sa.Time(), nullable=True),
    sa.Column('quiet_to', sa.Time(), nullable=True),
    sa.Column('show_category', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'channel', name=op.f('pk_alert_preferences'))
    )
    op.create_table('alert_marks',
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_alert_marks_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tip_id', 'kind', name=op.f('pk_alert_marks'))
    )
    op.create_table('job_runs',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_started_at', sa.DateTime(), nullable=True),
    sa.Column('last_finished_at', sa.DateTime(), nullable=True),
    sa.Column('last_result', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs'))
    )

    bind = op.get_bind()
    _preferences_from_email_flags(bind)
    _notifications_from_outbox(bind)

    with op.batch_alter_table('staff_emails', schema=None) as batch_op:
        batch_op.drop_column('urgent_tips')
        batch_op.drop_column('tipster_replies')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_tip_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_sent_at'))
    op.drop_table('outbox_messages')


def _preferences_from_email_flags(bind):
    """The e-mail flags become the account's e-mail preferences (new tips: urgent only)."""
    rows = bind.execute(sa.text('SELECT user_id, urgent_tips, tipster_replies FROM staff_emails')).all()
    for user_id, urgent, replies in rows:
        bind.execute(
            sa.text(
                'INSERT INTO alert_preferences (user_id, channel, new_tips, urgent_tips, '
                'tipster_replies, escalations, show_category) VALUES '
                '(:u, :c, :n, :urgent, :replies, :esc, :cat)'
            ),
            {'u': user_id, 'c': 'email', 'n': False, 'urgent': bool(urgent),
             'replies': bool(replies), 'esc': bool(urgent), 'cat': False},
        )


def _notifications_from_outbox(bind):
    """Pending e-mails (two days at most: older ones waited for an SMTP host that never
    came) become notifications to those who would have had them."""
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=2)
    pending = bind.execute(
        sa.text(
            'SELECT o.kind, o.tip_id, o.created_at, u.path, t.handler, t.hidden_from_village '
            'FROM outbox_messages o JOIN tips t ON t.id = o.tip_id JOIN units u ON u.id = t.unit_id '
            'WHERE o.sent_at IS NULL AND o.attempts < 5 AND o.created_at >= :since ORDER BY o.id'
        ),
        {'since': since},
    ).all()
    if not pending:
        return
    staff = bind.execute(
        sa.text(
            'SELECT r.user_id, r.role, u.path, e.urgent_tips, e.tipster_replies '
            'FROM role_assignments r JOIN units u ON u.id = r.unit_id '
            'JOIN staff_emails e ON e.user_id = r.user_id JOIN users s ON s.id = r.user_id '
            'WHERE s.active = :yes'
        ),
        {'yes': True},
    ).all()
    for kind, tip_id, created_at, tip_path, handler, hidden in pending:
        users = set()
        for user_id, role, unit_path, urgent, replies in staff:
            if not tip_path.startswith(unit_path) or role not in ACTING:
                continue
            if (hidden or handler == 'commune_police') and role in VILLAGE_TEAM:
                continue
            if handler == 'commune_police' and role != 'commune_police':
                continue
            wanted = {
                'urgent_tip': urgent,
                'tipster_reply': replies,
                'escalated': urgent and role == 'commune_police',
            }.get(kind, False)
            if wanted:
                users.add(user_id)
        for user_id in sorted(users):
            bind.execute(
                sa.text(
                    'INSERT INTO notifications (kind, tip_id, user_id, created_at) '
                    'VALUES (:k, :t, :u, :at)'
                ),
                {'k': kind, 't': tip_id, 'u': user_id, 'at': created_at},
            )


def downgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_outbox_messages_tip_id_tips'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_messages_sent_at'), ['sent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_tip_id'), ['tip_id'], unique=False)
    with op.batch_alter_table('staff_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent_tips', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('tipster_replies', sa.Boolean(), nullable=False, server_default=sa.true()))
    bind = op.get_bind()
    # Back to one waiting e-mail per tip and kind, and the e-mail flags.
    bind.execute(sa.text(
        "INSERT INTO outbox_messages (kind, tip_id, created_at, attempts) "
        "SELECT kind, tip_id, MIN(created_at), 0 FROM notifications "
        "WHERE fanned_out_at IS NULL AND tip_id IS NOT NULL AND user_id IS NOT NULL "
        "AND kind IN ('urgent_tip', 'tipster_reply', 'escalated') GROUP BY kind, tip_id"
    ))
    for user_id, urgent, replies in bind.execute(sa.text(
        "SELECT user_id, urgent_tips, tipster_replies FROM alert_preferences WHERE channel = 'email'"
    )).all():
        bind.execute(
            sa.text('UPDATE staff_emails SET urgent_tips = :a, tipster_replies = :b WHERE user_id = :u'),
            {'a': bool(urgent), 'b': bool(replies), 'u': user_id},
        )
    op.drop_table('job_runs')
    op.drop_table('alert_marks')
    op.drop_table('alert_preferences')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_state_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_deliveries_notification_id'))
    op.drop_table('deliveries')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_tip_id_kind')
        batch_op.drop_index('ix_notifications_fanned_out_at')
        batch_op.drop_index('ix_notifications_user_id_read_at')
    op.drop_table('notifications')
