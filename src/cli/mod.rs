//! Front end: the command line. `transform` runs request items through a destination,
//! `check` validates spec folders. Thin: parsing flags, reading and writing, rendering
//! diagnostics with source excerpts.

mod bench;
mod diff;
mod loadtest;
mod new;
mod render;
mod route;
mod serve;
mod test;
mod transform;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eventmap::Mappings;

#[derive(Parser)]
#[command(
    name = "eventmap",
    version,
    about = "Declarative event mapping: RudderStack events -> destination requests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transform processor request items (a JSON array, or NDJSON) into response items.
    Transform(transform::Args),
    /// Answer a routerTransform body (`{"input": [...], "destType"}`) as the router endpoint does.
    Route(route::Args),
    /// Load-test the HTTP service over loopback (starts one unless --url is given).
    Loadtest(loadtest::Args),
    /// Serve the processor endpoint over HTTP (a drop-in for the reference transformer).
    Serve(serve::Args),
    /// Run the golden cases next to each destination's specs (`<dest>/tests/<case>/`).
    Test(test::Args),
    /// Scaffold a new destination folder (specs and a golden case) that passes check and test.
    New(new::Args),
    /// Show what a spec change does: the same items through two spec folders, every difference.
    Diff(diff::Args),
    /// Load and compile destination specs, reporting every problem.
    Check {
        /// Only this destination (default: all).
        #[arg(long)]
        destination: Option<String>,
        #[arg(long)]
        mappings: Option<PathBuf>,
    },
    /// Measure transform throughput against the JSON floor on a large generated NDJSON file.
    Bench(bench::Args),
    /// Write the spec language reference and the editor schema from the construct registry
    /// (docs/spec-reference.md, schema/eventmap-spec.schema.json), or check they are current.
    Docs {
        /// Only check that the files are current (exit 1 when not).
        #[arg(long)]
        check: bool,
        /// The repository folder the files live in.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// List the destinations a mappings folder has.
    List {
        #[arg(long)]
        mappings: Option<PathBuf>,
    },
}

/// The engine of one destination for `transform` and `route`: the specs found (where from
/// goes to stderr, stdout being the answer), compiled, with the run's clock, random bytes
/// and constants.
pub fn load_engine(
    mappings: Option<PathBuf>,
    destination: &str,
    run: &RunArgs,
) -> anyhow::Result<eventmap::Engine> {
    let found = Found::resolve(mappings);
    eprintln!("{}", found.describe());
    let mappings = found.mappings;
    let mut engine = match eventmap::Engine::load(&mappings, destination) {
        Ok(Some(e)) => e,
        Ok(None) => anyhow::bail!(render::unknown_destination(&mappings, destination)),
        Err(d) => anyhow::bail!(
            "invalid specs for `{destination}`:\n{}",
            render::diagnostics(&mappings, &d)
        ),
    };
    run.apply(&mut engine, true)?;
    Ok(engine)
}

/// What a run maps with besides its items: a fixed clock, fixed random bytes, constants.
#[derive(clap::Args, Default, Clone)]
pub struct RunArgs {
    /// Fix the clock `now()` reads at this ISO 8601 time (tests, conformance, replays); by
    /// default the real clock.
    #[arg(long, value_name = "ISO")]
    now: Option<String>,
    /// Make every random draw return these bytes (hex), for tests and conformance.
    #[arg(long, value_name = "HEX")]
    random_hex: Option<String>,
    /// Override a destination's named constant for this run (`--const MAX_BATCH_SIZE=2`);
    /// the value is JSON, or text.
    #[arg(long = "const", value_name = "NAME=VALUE")]
    consts: Vec<String>,
}

impl RunArgs {
    /// Applies the options to an engine; a constant it does not declare is an error when
    /// `strict`, else skipped.
    pub fn apply(&self, engine: &mut eventmap::Engine, strict: bool) -> anyhow::Result<()> {
        use anyhow::Context;
        if let Some(now) = &self.now {
            engine.env.clock = eventmap::eval::Clock::fixed(now)
                .with_context(|| format!("--now {now}: not an ISO 8601 time"))?;
        }
        if let Some(hex) = &self.random_hex {
            engine.env.random = Some(
                eventmap::eval::Env::parse_hex(hex)
                    .with_context(|| format!("--random-hex {hex}: not hex bytes"))?,
            );
        }
        for c in &self.consts {
            let (name, value) = c
                .split_once('=')
                .with_context(|| format!("--const {c}: write NAME=VALUE"))?;
            match engine.set_const(name, value) {
                Ok(()) => {}
                Err(e) if strict => anyhow::bail!("--const {c}: {e}"),
                Err(_) => {}
            }
        }
        Ok(())
    }
}

/// The specs a command uses, and what chose them.
pub struct Found {
    pub mappings: Mappings,
    /// `--mappings`, `$EVENTMAP_MAPPINGS`, `./mappings`, or none of them (the embedded copy).
    pub by: &'static str,
}

impl Found {
    /// `--mappings`, else `$EVENTMAP_MAPPINGS`, else `./mappings`, else the embedded copy.
    pub fn resolve(flag: Option<PathBuf>) -> Found {
        let dir = |p: PathBuf, by| Found {
            mappings: Mappings::Dir(p),
            by,
        };
        if let Some(p) = flag {
            return dir(p, "--mappings");
        }
        if let Some(p) = std::env::var_os("EVENTMAP_MAPPINGS").filter(|p| !p.is_empty()) {
            return dir(PathBuf::from(p), "$EVENTMAP_MAPPINGS");
        }
        let local = PathBuf::from("mappings");
        if local.is_dir() {
            return dir(local, "./mappings");
        }
        Found {
            mappings: Mappings::Embedded,
            by: "no --mappings, $EVENTMAP_MAPPINGS or ./mappings",
        }
    }

    /// Where the specs come from, in a line: `specs: /abs/mappings (from --mappings)`.
    pub fn describe(&self) -> String {
        match &self.mappings {
            Mappings::Dir(d) => {
                let shown = std::path::absolute(d).unwrap_or_else(|_| d.clone());
                format!("specs: {} (from {})", shown.display(), self.by)
            }
            Mappings::Embedded => format!(
                "specs: the copy embedded in this binary at build time ({})",
                self.by
            ),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Transform(args) => transform::run(args),
        Command::Route(args) => route::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Loadtest(args) => loadtest::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Test(args) => test::run(args),
        Command::New(args) => new::run(args),
        Command::Check {
            destination,
            mappings,
        } => check(destination, mappings),
        Command::Docs { check, root } => docs(check, &root),
        Command::List { mappings } => {
            // The names go to stdout, one a line, for scripts; where they came from to stderr.
            let found = Found::resolve(mappings);
            eprintln!("{}", found.describe());
            for d in found.mappings.destinations() {
                println!("{d}");
            }
            Ok(())
        }
    };
    if std::env::var_os("EVENTMAP_REPORT_RSS").is_some() {
        bench::report_rss();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eventmap: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(destination: Option<String>, mappings: Option<PathBuf>) -> anyhow::Result<()> {
    let found = Found::resolve(mappings);
    println!("{}", found.describe());
    let mappings = found.mappings;
    let names = match destination {
        Some(d) => vec![d],
        None => mappings.destinations(),
    };
    let mut bad = 0;
    for name in &names {
        match eventmap::Engine::load(&mappings, name) {
            Ok(Some(e)) => println!(
                "{}: ok ({} message types, spec hash {})",
                e.plan.name,
                e.plan.flows.len(),
                e.plan.spec_hash
            ),
            Ok(None) => {
                bad += 1;
                eprintln!("{}", render::unknown_destination(&mappings, name));
            }
            Err(diags) => {
                bad += 1;
                eprint!("{}", render::diagnostics(&mappings, &diags));
            }
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} destination(s) failed to load");
    }
    Ok(())
}

fn docs(check: bool, root: &std::path::Path) -> anyhow::Result<()> {
    use eventmap::docs::{REFERENCE_PATH, SCHEMA_PATH, reference_markdown, schema_text};
    let mut stale = Vec::new();
    for (rel, text) in [
        (REFERENCE_PATH, reference_markdown()),
        (SCHEMA_PATH, schema_text()),
    ] {
        let path = root.join(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if check {
            stale.push(rel);
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, text)?;
            println!("wrote {rel}");
        }
    }
    if !stale.is_empty() {
        anyhow::bail!(
            "{} out of date with the registry; run `eventmap docs`",
            stale.join(" and ")
        );
    }
    Ok(())
}
