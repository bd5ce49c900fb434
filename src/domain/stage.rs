//! Where a generation is: written by the worker and the generators, read by
//! `/status` and the waiting users' progress notes. Stored as a short
//! machine token (see [`Stage`]'s `Display`); the words a person reads are
//! in `texts`.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sea_orm::DeriveValueType;

use super::Gate;

/// Receives a generation's progress as it happens (latest wins).
pub type StageSink = Arc<dyn Fn(Stage) + Send + Sync>;

/// Counts of a staged generation's steps ("images 7/10, clips 3/10").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepCounts {
    pub images_done: u32,
    pub images: u32,
    pub clips_done: u32,
    pub clips: u32,
    pub voice_ready: bool,
    pub assembled: bool,
}

/// The stage of an asset's current generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum Stage {
    /// Waiting for a worker.
    Queued,
    /// Waiting for one of the `MAX_ACTIVE_GENERATIONS` slots, in order.
    Waiting,
    /// Queued again after its worker stopped (crash or lost lease).
    Requeued,
    /// Handed back at shutdown; resumes on the next start.
    Interrupted,
    /// The generator runs; `attempt` of `of`.
    Generating { attempt: u32, of: u32 },
    /// A staged generation writes its script.
    Script,
    /// A staged generation makes images, clips and the voice-over.
    Steps(StepCounts),
    /// A staged generation joins clips and voice-over.
    Assembling,
    /// The video is being uploaded to Telegram.
    Uploading,
    /// Stopped at a gate until a person approves or rejects it.
    AwaitingApproval(Gate),
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued => f.write_str("queued"),
            Self::Waiting => f.write_str("waiting"),
            Self::Requeued => f.write_str("requeued"),
            Self::Interrupted => f.write_str("interrupted"),
            Self::Generating { attempt, of } => write!(f, "generating {attempt}/{of}"),
            Self::Script => f.write_str("script"),
            Self::Steps(c) => write!(
                f,
                "steps {}/{} {}/{} {} {}",
                c.images_done,
                c.images,
                c.clips_done,
                c.clips,
                u8::from(c.voice_ready),
                u8::from(c.assembled)
            ),
            Self::Assembling => f.write_str("assembling"),
            Self::Uploading => f.write_str("uploading"),
            Self::AwaitingApproval(gate) => write!(f, "approval {gate}"),
        }
    }
}

fn fraction(raw: &str) -> Option<(u32, u32)> {
    let (done, total) = raw.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

impl FromStr for Stage {
    type Err = Infallible;

    /// Never fails: a value this version does not know (a row written by
    /// an older one) reads as `Queued`, which only affects a progress text.
    fn from_str(raw: &str) -> Result<Self, Infallible> {
        let mut words = raw.split(' ');
        let stage = match words.next().unwrap_or_default() {
            "requeued" => Self::Requeued,
            "waiting" => Self::Waiting,
            "interrupted" | "interrupted," => Self::Interrupted,
            "script" | "Writing" => Self::Script,
            "assembling" | "Assembling" => Self::Assembling,
            "uploading" => Self::Uploading,
            "approval" => match words.next().map(str::parse::<Gate>) {
                Some(Ok(gate)) => Self::AwaitingApproval(gate),
                _ => Self::Queued,
            },
            "generating" => match words.next().and_then(fraction) {
                Some((attempt, of)) => Self::Generating { attempt, of },
                None => Self::Queued,
            },
            "steps" => {
                let parts: Vec<&str> = words.collect();
                match parts.as_slice() {
                    [images, clips, voice, assembled] => match (fraction(images), fraction(clips)) {
                        (Some((images_done, images)), Some((clips_done, clips))) => Self::Steps(StepCounts {
                            images_done,
                            images,
                            clips_done,
                            clips,
                            voice_ready: *voice == "1",
                            assembled: *assembled == "1",
                        }),
                        _ => Self::Queued,
                    },
                    _ => Self::Queued,
                }
            }
            _ => Self::Queued,
        };
        Ok(stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_reads_back_as_written() {
        let counts = StepCounts { images_done: 7, images: 10, clips_done: 3, clips: 10, voice_ready: true, assembled: false };
        for stage in [
            Stage::Queued,
            Stage::Waiting,
            Stage::Requeued,
            Stage::Interrupted,
            Stage::Generating { attempt: 2, of: 3 },
            Stage::Script,
            Stage::Steps(counts),
            Stage::Assembling,
            Stage::Uploading,
            Stage::AwaitingApproval(Gate::Images),
        ] {
            assert_eq!(stage.to_string().parse::<Stage>(), Ok(stage), "{stage}");
        }
    }

    #[test]
    fn unknown_text_reads_as_queued() {
        assert_eq!("queued again after an interruption".parse::<Stage>(), Ok(Stage::Queued));
        assert_eq!("".parse::<Stage>(), Ok(Stage::Queued));
        assert_eq!("steps x/1".parse::<Stage>(), Ok(Stage::Queued));
    }
}
