//! Capped exponential backoff with "equal jitter": each delay is drawn between half and
//! all of the current step, which doubles per failure up to the cap. Shared by the sink
//! runtime's retries and the `sluice` binary's restarts, so every retry in Sluice spaces
//! itself the same way (and many processes failing together do not retry in lockstep).

use std::time::Duration;

/// The delays between attempts of one thing that keeps failing.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    /// Starts at `initial`, never waits more than `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            step: initial,
        }
    }

    /// The next delay; the step after it doubles.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.max);
        step.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    /// Back to the first step, after a success.
    pub fn reset(&mut self) {
        self.step = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let (initial, max) = (Duration::from_millis(500), Duration::from_secs(30));
        let mut backoff = Backoff::new(initial, max);
        let mut step = initial;
        for _ in 0..12 {
            let delay = backoff.next_delay();
            assert!(
                delay >= step / 2 && delay <= step,
                "{delay:?} for step {step:?}"
            );
            step = (step * 2).min(max);
        }
        assert_eq!(step, max);
        backoff.reset();
        assert!(backoff.next_delay() <= initial);
    }
}
