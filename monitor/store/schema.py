"""The schema: named, ordered, append-only migrations."""

from __future__ import annotations

# Named, ordered, append-only. Never edit a migration that has shipped: add one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_roster_and_observations",
        """
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            effective_at TEXT NOT NULL,
            form TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE units (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            identity TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL DEFAULT '',
            roster_order INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE account_versions (
            id INTEGER PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            valid_from TEXT NOT NULL,
            import_id INTEGER REFERENCES imports(id),
            name TEXT NOT NULL,
            unit INTEGER NOT NULL REFERENCES units(id),
            region TEXT NOT NULL,
            status TEXT NOT NULL,
            supervisor TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            retired INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX account_versions_in_force ON account_versions(account, valid_from);
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            observed_at TEXT NOT NULL,
            source TEXT NOT NULL,
            outcome TEXT NOT NULL,
            evidence INTEGER NOT NULL,
            latest_post_at TEXT,
            post_id TEXT,
            post_url TEXT,
            post_title TEXT,
            detail TEXT,
            recorded_at TEXT NOT NULL
        );
        -- "latest observation of each account at or before a moment"
        CREATE INDEX observations_latest ON observations(account, observed_at);
        CREATE INDEX observations_evidence ON observations(account, evidence, observed_at);
        """,
    ),
    (
        "0002_source_settings",
        """
        ALTER TABLE account_versions ADD COLUMN source TEXT NOT NULL DEFAULT '';
        ALTER TABLE account_versions ADD COLUMN feed_url TEXT NOT NULL DEFAULT '';
        ALTER TABLE account_versions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
        ALTER TABLE account_versions ADD COLUMN secret_env TEXT NOT NULL DEFAULT '';
        ALTER TABLE observations ADD COLUMN silent_since TEXT;
        ALTER TABLE observations ADD COLUMN profile TEXT;
        ALTER TABLE observations ADD COLUMN retry_after REAL;
        CREATE TABLE source_state (
            account INTEGER PRIMARY KEY REFERENCES accounts(id),
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ),
    (
        "0003_alerts",
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            account INTEGER REFERENCES accounts(id),
            unit INTEGER REFERENCES units(id),
            kind TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            observation INTEGER REFERENCES observations(id),
            evidence TEXT NOT NULL DEFAULT '{}',
            acked_at TEXT,
            ack_note TEXT
        );
        -- at most one open alert per (account, kind), whoever writes it
        CREATE UNIQUE INDEX alerts_one_open
            ON alerts(account, kind) WHERE closed_at IS NULL;
        CREATE INDEX alerts_unit ON alerts(unit, closed_at);
        """,
    ),
    (
        "0004_schedule",
        """
        -- When each account is next checked (the daemon's schedule lives here, not in
        -- the process), who holds it while a check is in flight, and its failure streak.
        CREATE TABLE schedule (
            account INTEGER PRIMARY KEY REFERENCES accounts(id),
            next_check_at TEXT NOT NULL,
            claimed_by TEXT,
            claimed_until TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            first_checked_at TEXT,
            last_checked_at TEXT,
            last_success_at TEXT,
            last_outcome TEXT
        );
        CREATE INDEX schedule_due ON schedule(next_check_at);
        """,
    ),
    (
        "0005_outbox",
        """
        ALTER TABLE alerts ADD COLUMN source TEXT;
        ALTER TABLE alerts ADD COLUMN close_reason TEXT;
        -- source-wide alerts have no account: one open per (kind, source)
        CREATE UNIQUE INDEX alerts_one_open_source
            ON alerts(kind, source) WHERE closed_at IS NULL AND account IS NULL;
        -- One row per message and channel, written before sending. `channel` is a key
        -- resolved from the settings at send time ("operators#0"), never a URL.
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            alert INTEGER REFERENCES alerts(id),
            unit INTEGER REFERENCES units(id),
            channel TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            claimed_until TEXT,
            last_error TEXT,
            delivered_at TEXT,
            failed_at TEXT,
            UNIQUE (event, channel)
        );
        CREATE INDEX deliveries_pending ON deliveries(next_attempt_at)
            WHERE delivered_at IS NULL AND failed_at IS NULL;
        CREATE INDEX deliveries_alert ON deliveries(alert);
        """,
    ),
    (
        "0006_source_health",
        """
        -- Per source: the accounts of the current run of rate-limited/blocked answers,
        -- the backoff level and the pause it imposes.
        CREATE TABLE source_health (
            source TEXT PRIMARY KEY,
            streak TEXT NOT NULL DEFAULT '[]',
            level INTEGER NOT NULL DEFAULT 0,
            paused_until TEXT,
            last_outcome TEXT,
            updated_at TEXT NOT NULL
        );
        -- Liveness of the daemon and the last run of each daily job.
        CREATE TABLE heartbeat (
            name TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        """,
    ),
    (
        "0007_observations_by_time",
        """
        -- checks per source and outcome over the last day (/healthz, /metrics)
        CREATE INDEX observations_time ON observations(observed_at);
        """,
    ),
    (
        "0008_source_state_key",
        """
        -- what the state was gathered from (account id, feed URL, AppID): a state
        -- kept for one feed URL or AppID must not be used for another
        ALTER TABLE source_state ADD COLUMN key TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        "0009_wechat_scan_by_send_date",
        """
        -- WeChat scans kept so far came from datacube/getarticlesummary, which lists
        -- the articles READ on a day, not those sent: a read passed for a post. Such a
        -- scan is never trusted; the next check of each account scans afresh by send
        -- date (getarticletotaldetail / getarticletotal).
        DELETE FROM source_state WHERE source = 'wechat_api';
        """,
    ),
    (
        "0010_current_verdicts",
        """
        -- Each account's current verdict (with the configured policy), kept in step by
        -- every recorded check, every roster import and the daily reclassification.
        -- `valid_until`: the first local date on which the verdict changes with no new
        -- write (evidence ages, a window is crossed, a roster version takes effect);
        -- a row is current for dates in [as_of, valid_until). Roster fields are copied
        -- here so lists filter and count through indexes.
        CREATE TABLE verdicts (
            account INTEGER PRIMARY KEY REFERENCES accounts(id),
            state TEXT NOT NULL,
            since TEXT NOT NULL,
            as_of TEXT NOT NULL,
            valid_until TEXT,
            policy TEXT NOT NULL,
            evidence INTEGER REFERENCES observations(id),
            reason TEXT NOT NULL,
            latest_post_date TEXT,
            roster_problem TEXT,
            platform TEXT NOT NULL,
            unit INTEGER NOT NULL REFERENCES units(id),
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            roster_order INTEGER NOT NULL,
            retired INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
        -- Lists and counts of accounts in the roster read these alone (covering).
        CREATE INDEX verdicts_live_order ON verdicts(roster_order, account) WHERE retired = 0;
        CREATE INDEX verdicts_live_state ON verdicts(state, roster_order, account)
            WHERE retired = 0;
        CREATE INDEX verdicts_live_region ON verdicts(region, state, roster_order, account)
            WHERE retired = 0;
        CREATE INDEX verdicts_live_unit ON verdicts(unit, state, roster_order, account)
            WHERE retired = 0;
        CREATE INDEX verdicts_live_platform ON verdicts(platform, state, roster_order, account)
            WHERE retired = 0;
        CREATE INDEX verdicts_valid ON verdicts(valid_until);
        CREATE INDEX verdicts_policy ON verdicts(policy, as_of);
        -- Every change of an account's current state, with the evidence it rests on.
        CREATE TABLE flips (
            id INTEGER PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            at TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            evidence INTEGER REFERENCES observations(id),
            reason TEXT NOT NULL
        );
        CREATE INDEX flips_account ON flips(account, at);
        """,
    ),
    (
        "0011_observation_detail_code",
        """
        -- the detail as a message code and its parameters (JSON), worded per reader;
        -- NULL where the source wrote free text only
        ALTER TABLE observations ADD COLUMN detail_code TEXT;
        ALTER TABLE observations ADD COLUMN detail_params TEXT;
        """,
    ),
    (
        "0012_identity_text",
        """
        -- identities compare names and ids as `identity_text` does (NFKC, no zero-width
        -- characters); two accounts that now collide keep their old identities (OR IGNORE)
        UPDATE OR IGNORE accounts
            SET identity = platform || ':id:' || identity_text(substr(identity, length(platform) + 5))
            WHERE substr(identity, 1, length(platform) + 4) = platform || ':id:';
        UPDATE OR IGNORE accounts
            SET identity = platform || ':name:' || identity_text(substr(identity, length(platform) + 7))
            WHERE substr(identity, 1, length(platform) + 6) = platform || ':name:';
        """,
    ),
    (
        "0013_http_links_only",
        """
        -- only http(s) links are kept as evidence (monitor.links.http_link)
        UPDATE observations SET post_url = http_link(post_url) WHERE post_url IS NOT NULL;
        UPDATE alerts SET evidence = json_set(evidence, '$.url', http_link(json_extract(evidence, '$.url')))
            WHERE json_extract(evidence, '$.url') IS NOT NULL;
        """,
    ),
    (
        "0014_sites",
        """
        -- Government websites (monitor sites import) and their columns (栏目); a site's
        -- sponsoring unit is a row of `units`, shared with accounts (alerts per unit).
        CREATE TABLE sites (
            id INTEGER PRIMARY KEY,
            site_code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            url TEXT NOT NULL,
            unit INTEGER NOT NULL REFERENCES units(id),
            region TEXT NOT NULL,
            roster_order INTEGER NOT NULL,
            import_id INTEGER REFERENCES imports(id),
            retired INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE site_columns (
            id INTEGER PRIMARY KEY,
            site INTEGER NOT NULL REFERENCES sites(id),
            name TEXT NOT NULL,
            url TEXT NOT NULL,
            kind TEXT NOT NULL,
            date_selector TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL,
            -- 1: proposed by `monitor sites discover`, not yet accepted (never checked)
            proposed INTEGER NOT NULL DEFAULT 0,
            retired INTEGER NOT NULL DEFAULT 0,
            import_id INTEGER REFERENCES imports(id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (site, url)
        );
        """,
    ),
    (
        "0015_site_observations",
        """
        -- One fetch of a site's page: homepage, column listing, link or availability probe.
        -- ok = 1: fetched and read (the evidence); ok = 0: a failed check, never "not updated".
        -- reachable: 1 the host answered below 500, 0 it did not, NULL not attempted (robots).
        CREATE TABLE site_observations (
            id INTEGER PRIMARY KEY,
            site INTEGER NOT NULL REFERENCES sites(id),
            target TEXT NOT NULL,
            column_id INTEGER REFERENCES site_columns(id),
            url TEXT NOT NULL,
            page TEXT,
            sweep TEXT,
            observed_at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            reachable INTEGER,
            status INTEGER,
            items INTEGER,
            newest_date TEXT,
            newest_title TEXT,
            newest_url TEXT,
            detail TEXT
        );
        CREATE INDEX site_observations_latest
            ON site_observations(site, target, column_id, observed_at);
        CREATE INDEX site_observations_sweep ON site_observations(site, sweep);
        -- a window of days out of a year of fetches (evidence, availability samples)
        CREATE INDEX site_observations_time ON site_observations(site, target, observed_at);
        """,
    ),
    (
        "0016_users_and_audit",
        """
        -- people who sign in: office staff and units (a unit user sees its units only)
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'office', 'unit')),
            units TEXT NOT NULL DEFAULT '[]',
            password_hash TEXT,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        );
        -- API tokens and sessions are stored as SHA-256 digests, never as given
        CREATE TABLE api_tokens (
            digest TEXT PRIMARY KEY,
            user INTEGER NOT NULL REFERENCES users(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX api_tokens_user ON api_tokens(user);
        CREATE TABLE sessions (
            digest TEXT PRIMARY KEY,
            user INTEGER NOT NULL REFERENCES users(id),
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            address TEXT
        );
        CREATE INDEX sessions_user ON sessions(user);
        -- failed sign-ins in a row, per user name and per address, and the lock they earned
        CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_at TEXT NOT NULL,
            locked_until TEXT
        );
        -- every write: who, when, what, from which address
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            who TEXT NOT NULL,
            role TEXT,
            address TEXT,
            action TEXT NOT NULL,
            status INTEGER,
            detail TEXT
        );
        CREATE INDEX audit_at ON audit(at);
        """,
    ),
    (
        "0017_notices_and_cases",
        """
        -- An issued notice (通报): a month's report frozen byte-for-byte, one row per file.
        CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            month TEXT NOT NULL UNIQUE,
            as_of TEXT NOT NULL,
            deadline TEXT NOT NULL,
            issued_at TEXT NOT NULL
        );
        CREATE TABLE notice_files (
            notice INTEGER NOT NULL REFERENCES notices(id),
            format TEXT NOT NULL,
            filename TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (notice, format)
        );
        -- One case (整改) per account a notice names; as_of and deadline are local dates.
        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            notice INTEGER NOT NULL REFERENCES notices(id),
            account INTEGER NOT NULL REFERENCES accounts(id),
            unit INTEGER NOT NULL REFERENCES units(id),
            region TEXT NOT NULL,
            problems TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            deadline TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            response TEXT,
            response_note TEXT,
            responded_at TEXT,
            decision TEXT,
            decision_note TEXT,
            decided_at TEXT,
            reviewed_at TEXT,
            closed_at TEXT,
            reminded_at TEXT,
            evidence TEXT NOT NULL DEFAULT '{}',
            UNIQUE (notice, account)
        );
        CREATE INDEX cases_due ON cases(status, deadline);
        CREATE INDEX cases_account ON cases(account);
        -- Everything that happened to a case, in order: opened, responded, decided,
        -- reminded, reviewed (with the evidence the re-check looked at).
        CREATE TABLE case_events (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX case_events_case ON case_events(case_id, id);
        """,
    ),
    (
        "0018_sent_checks",
        """
        -- scale out: every check a coordinator sent to a fetch worker, keyed by its
        -- check id; `ended` set once (recorded / failed / abandoned), so a check a
        -- worker ran twice is recorded once
        CREATE TABLE sent_checks (
            check_id TEXT PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            source TEXT NOT NULL,
            task_id TEXT NOT NULL,
            sent_by TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            ended TEXT,
            ended_at TEXT,
            observation INTEGER REFERENCES observations(id)
        );
        CREATE INDEX sent_checks_open ON sent_checks(sent_by) WHERE ended IS NULL;
        """,
    ),
    (
        "0019_site_detail_codes",
        """
        -- a website fetch's detail as a message code and its parameters (JSON), worded
        -- per reader; NULL for fetches stored before details had codes
        ALTER TABLE site_observations ADD COLUMN detail_code TEXT;
        ALTER TABLE site_observations ADD COLUMN detail_params TEXT;
        """,
    ),
    (
        "0020_verdict_findings",
        """
        -- each current verdict's roster problems (名单问题, kinds comma-separated), so
        -- the dashboard's problem lists and counts read the stored rows; existing rows
        -- expire at once and are judged again (same state: same `since`, no flip)
        ALTER TABLE verdicts ADD COLUMN findings TEXT NOT NULL DEFAULT '';
        CREATE INDEX verdicts_live_findings ON verdicts(roster_order, account)
            WHERE retired = 0 AND findings != '';
        UPDATE verdicts SET valid_until = as_of;
        """,
    ),
]


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
