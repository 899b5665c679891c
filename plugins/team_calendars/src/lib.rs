//! Team Calendars: moves the calendars of the migrated spaces and their events, each
//! calendar attached to its space's cloud copy.
//!
//! Calendars of spaces outside this migration are left alone. A calendar whose space is
//! in the migration but has no cloud copy is skipped with its events, and makes the
//! outcome `incomplete`.

use std::collections::{HashMap, HashSet};

use ferry_sdk::mappings::{self, Namespace};
use ferry_sdk::{progress, tables, upload, Error, MigrationDetails, Outcome, Plugin};
use serde::{Deserialize, Serialize};

const CALENDARS: &str = "AO_FCAC82_CALENDAR";
const EVENTS: &str = "AO_FCAC82_EVENT";

/// A row of the server app's calendar table.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Calendar {
    pub id: i64,
    pub space_key: String,
    pub name: String,
    pub color: Option<String>,
}

/// A row of the server app's event table.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Event {
    pub id: i64,
    pub calendar_id: i64,
    pub summary: String,
    pub description: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub all_day: bool,
}

/// A calendar as the cloud app imports it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CloudCalendar {
    pub server_id: i64,
    pub space_id: String,
    pub name: String,
    pub color: Option<String>,
}

/// An event as the cloud app imports it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CloudEvent {
    pub server_id: i64,
    pub calendar_server_id: i64,
    pub summary: String,
    pub description: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub all_day: bool,
}

struct TeamCalendars;

impl Plugin for TeamCalendars {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        progress(0, "reading calendars");
        let wanted: HashSet<&str> = details.spaces.iter().map(String::as_str).collect();
        let spaces = mappings::lookup(Namespace::Space, &details.spaces)?;
        let mut calendars_out = upload::JsonLines::new("calendars.jsonl");
        let mut moved = HashMap::new();
        let mut unmapped_calendars = 0u64;
        for calendar in tables::read::<Calendar>(CALENDARS) {
            let calendar = calendar?;
            if !wanted.contains(calendar.space_key.as_str()) {
                continue;
            }
            let Some(space_id) = spaces.get(&calendar.space_key) else {
                unmapped_calendars += 1;
                continue;
            };
            moved.insert(calendar.id, ());
            calendars_out.push(&CloudCalendar { server_id: calendar.id, space_id: space_id.clone(), name: calendar.name, color: calendar.color })?;
        }
        let calendars = calendars_out.finish()?;
        progress(30, &format!("{calendars} calendars uploaded; reading events"));

        let total = tables::count(EVENTS)?.max(1);
        let mut events_out = upload::JsonLines::new("events.jsonl");
        for (seen, event) in tables::read::<Event>(EVENTS).enumerate() {
            let event = event?;
            if moved.contains_key(&event.calendar_id) {
                events_out.push(&CloudEvent {
                    server_id: event.id,
                    calendar_server_id: event.calendar_id,
                    summary: event.summary,
                    description: event.description,
                    start_ms: event.start_ms,
                    end_ms: event.end_ms,
                    all_day: event.all_day,
                })?;
            }
            if seen % 5_000 == 0 {
                progress(30 + (seen as u64 * 69 / total) as u8, &format!("{seen} of {total} events read"));
            }
        }
        let events = events_out.finish()?;
        progress(100, &format!("{calendars} calendars and {events} events uploaded"));
        if unmapped_calendars > 0 {
            return Ok(Outcome::Incomplete(format!(
                "{unmapped_calendars} calendars belong to migrated spaces that have no cloud copy; re-run after those spaces migrate"
            )));
        }
        Ok(Outcome::Complete)
    }
}

ferry_sdk::export_plugin!(TeamCalendars);
