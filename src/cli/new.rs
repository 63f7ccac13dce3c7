//! Front end: `eventmap new NAME`. Scaffolds `<mappings>/NAME/`: a destination file with the
//! editor schema modeline, one flow, and one golden case whose expectation is the scaffold's
//! own answer, so the new folder passes `check` and `test` (at full coverage) as generated
//! and every later edit shows up as a difference to review.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use eventmap::golden::{Outcome, cases_in, run_case};
use eventmap::spec::valid_destination_name;
use eventmap::{Engine, Mappings};

use super::Found;

#[derive(clap::Args)]
pub struct Args {
    /// The destination's name (`[A-Za-z0-9_-]+`), also its folder's.
    name: String,
    /// The mappings folder to create it in (default: $EVENTMAP_MAPPINGS, else ./mappings,
    /// created when missing).
    #[arg(long)]
    mappings: Option<PathBuf>,
}

const DESTINATION: &str = r#"# yaml-language-server: $schema=../../schema/eventmap-spec.schema.json
# __NAME__: what this destination is. The spec language: docs/spec-reference.md.
destination: __NAME__
description: __NAME__ API (track -> POST /v1/events)
workflow: procWorkflow
stat_tags: {errorCategory: dataValidation, implementation: cdkV2, destType: __UPPER__, module: destination, feature: processor}

message_type:
  supported: [track]                  # each supported type needs a flow file

config:                               # every config key a spec reads is declared here
  apiKey:
    description: "The API key, sent as `Authorization: Bearer <key>`."
    required: API Key is required
    error_type: configuration
    secret: true                      # masked in everything eventmap prints

request:                              # the response each payload becomes
  method: POST
  endpoint: https://api.example.com/v1/events
  headers:
    Authorization: "Bearer {{config.apiKey}}"
    Content-Type: application/json
"#;

const TRACK: &str = r#"# yaml-language-server: $schema=../../schema/eventmap-spec.schema.json
# track -> the event with its user and properties.
flow: track
steps:
  - name: trackPayload
    do:
      - require: message.event
        error: event is required for track call
      - set:
          event: message.event
          userId: message.userId ?? message.anonymousId
          properties: message.properties
          timestamp: message.timestamp ?? message.originalTimestamp
      - emit: {clean: top_nulls}
"#;

const CASE: &str = r#"[
  {"message": {"type": "track", "event": "Order Completed", "userId": "u-1", "properties": {"order_id": "o-1", "total": 12.5}, "timestamp": "2025-01-01T00:00:00.000Z"}, "destination": {"Config": {"apiKey": "test-api-key"}}, "metadata": {"jobId": 1}},
  {"message": {"type": "track", "anonymousId": "a-2", "properties": {"plan": "team"}}, "destination": {"Config": {"apiKey": "test-api-key"}}, "metadata": {"jobId": 2}},
  {"message": {"type": "track", "event": "Signed Up", "userId": "u-3"}, "destination": {"Config": {}}, "metadata": {"jobId": 3}},
  {"message": {"type": "identify", "userId": "u-4"}, "destination": {"Config": {"apiKey": "test-api-key"}}, "metadata": {"jobId": 4}}
]
"#;

pub fn run(args: Args) -> anyhow::Result<()> {
    let name = args.name;
    if !valid_destination_name(&name) {
        bail!("`{name}` cannot name a destination: use letters, digits, `_` and `-`");
    }
    let root = match Found::resolve(args.mappings) {
        Found {
            mappings: Mappings::Dir(d),
            ..
        } => d,
        Found {
            mappings: Mappings::Embedded,
            ..
        } => PathBuf::from("mappings"),
    };
    let existing = Mappings::Dir(root.clone()).destinations();
    if let Some(d) = existing.iter().find(|d| d.eq_ignore_ascii_case(&name)) {
        bail!(
            "`{d}` already exists in {}; pick another name",
            root.display()
        );
    }
    let dir = root.join(&name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let case = dir.join("tests").join("track");
    write(&dir.join("destination.yaml"), &fill(DESTINATION, &name))?;
    write(&dir.join("track.yaml"), TRACK)?;
    write(&case.join("input.json"), CASE)?;
    // The expectation is the scaffold's own answer, written the way `test --bless` writes it.
    let engine = match Engine::load(&Mappings::Dir(root.clone()), &name) {
        Ok(Some(e)) => e,
        Ok(None) => bail!("the scaffold for `{name}` was not found after writing it"),
        Err(d) => bail!("the scaffold for `{name}` does not compile (a bug):\n{d}"),
    };
    for c in cases_in(&dir.join("tests"), &format!("{name}/tests/")) {
        if run_case(&engine, &c, true) != Outcome::Blessed {
            bail!("cannot write the expectation of {}", c.name);
        }
    }
    let shown = root.display();
    println!("created {}/", dir.display());
    println!("  destination.yaml      identity, message types, config, the request");
    println!("  track.yaml            the track flow");
    println!("  tests/track/          a golden case: input.json, output.json (its answer now)");
    println!("next:");
    println!("  eventmap check --mappings {shown} --destination {name}");
    println!("  eventmap test --mappings {shown} --destination {name} --coverage");
    println!(
        "then edit the specs (docs/spec-reference.md), add cases under tests/, and review what \
         `eventmap test --bless` writes before committing it"
    );
    Ok(())
}

/// The template with the destination's name (and its upper-case form for statTags).
fn fill(template: &str, name: &str) -> String {
    template
        .replace("__UPPER__", &name.to_uppercase())
        .replace("__NAME__", name)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
