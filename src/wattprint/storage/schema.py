"""The SQLite schema of a wattprint store and the markers that recognise one.

A store carries three marks, all written in the one transaction that creates it: ``PRAGMA
application_id`` (in the file header, readable without opening the database), ``PRAGMA
user_version`` (the schema version) and the ``wattprint_meta`` table (application name + version).
"""

from __future__ import annotations

APPLICATION_ID = 0x57505254  # "WPRT": SQLite file-header application id of wattprint stores
APPLICATION_NAME = "wattprint"
SCHEMA_VERSION = 2
META_TABLE = "wattprint_meta"

# SQLite file format: https://www.sqlite.org/fileformat.html#the_database_header
SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
USER_VERSION_OFFSET = 60
APPLICATION_ID_OFFSET = 68

# A tracker's append of one sample is ONE statement (each statement hands the GIL to the tracked program
# and back): the trigger brings the run's totals and figures up to date in the same implicit transaction.
# ``live`` = a JSON merge patch for the run's summary ('{}' for none); it is cleared once applied.
LIVE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS samples_live AFTER INSERT ON samples WHEN NEW.live IS NOT NULL BEGIN
    UPDATE runs SET duration_s = MAX(duration_s, NEW.elapsed_s),
                    energy_j = json_patch(energy_j, NEW.energy_j),
                    summary = json_patch(summary, NEW.live),
                    updated_at = NEW.t_unix
     WHERE id = NEW.run_id;
    UPDATE samples SET live = NULL WHERE id = NEW.id;
END;
"""

# schema version -> statements that bring a store of that version to the next one
MIGRATIONS = {1: ["ALTER TABLE samples ADD COLUMN live TEXT", LIVE_TRIGGER]}


def upgradable(version: int) -> bool:
    """Whether a store of schema ``version`` is this wattprint's or one :data:`MIGRATIONS` brings to it step by step
    (0, a negative number or a version no wattprint wrote is not)."""
    return 1 <= version <= SCHEMA_VERSION and all(v in MIGRATIONS for v in range(version, SCHEMA_VERSION))


CREATE = f"""
CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    status TEXT NOT NULL,            -- running | finished | interrupted | failed
    started_at REAL NOT NULL,        -- unix seconds
    ended_at REAL,                   -- unix seconds, NULL while running (or after SIGKILL)
    duration_s REAL NOT NULL DEFAULT 0,
    energy_j TEXT NOT NULL DEFAULT '{{}}',   -- JSON: cumulative IT energy per component, J
    meta TEXT NOT NULL DEFAULT '{{}}',       -- JSON
    summary TEXT NOT NULL DEFAULT '{{}}',    -- JSON: what the tracker last wrote (Footprint.to_dict() + extras)
    updated_at REAL NOT NULL
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_project ON runs (project, started_at);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    t_unix REAL NOT NULL,
    elapsed_s REAL NOT NULL,
    phase TEXT,
    energy_j TEXT NOT NULL,          -- JSON: cumulative IT energy per component since run start, J
    power_w TEXT NOT NULL,           -- JSON: mean power per component over the interval ending here, W
    live TEXT                        -- summary patch of a one-statement append (LIVE_TRIGGER), then NULL
);
CREATE INDEX samples_by_run ON samples (run_id, elapsed_s);
{LIVE_TRIGGER}
CREATE TABLE phases (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL,
    energy_j TEXT NOT NULL,
    UNIQUE (run_id, name, start_s)
);
"""
