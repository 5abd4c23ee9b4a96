//! The deterministic schedule ([`Schedule::Deterministic`](crate::manager::Schedule)): the run in
//! rounds.
//!
//! Every runner is in step mode. A round gives each live optimizer one step: it asks a batch,
//! evaluates it on its level-2 evaluator (all the round's batches at once, on any backend) and sends
//! the batch's results together, in the batch's order, then waits at its next boundary. The manager
//! holds what arrives until every member of the round has finished its batch or ended, and then
//! applies it in optimizer-id order: `call_id`s, the best point, shared incumbents and every record
//! are the same whatever finished first. Hunts, convergence checks, new starts and checkpoints happen
//! between rounds, when no batch is in flight, so a checkpoint holds no pending evaluation and a run
//! resumed from it goes on exactly as the uninterrupted run.
//!
//! A round's credit is granted in optimizer-id order from the batch sizes the members announce
//! ([`Message::Asked`]) before they evaluate anything: with an evaluation budget a batch is evaluated
//! whole or not at all, so the budget is never overshot, and an optimizer whose next batch does not fit
//! in what is left is stopped (and no new optimizer starts). Since the round is applied in that same
//! order, each grant also tells the runner the `call_id` its batch's first point will be logged under,
//! which its evaluations pass on to the objective ([`crate::EvalContext::call_id`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::State;
use crate::error::Result;
use crate::manager::EndReason;
use crate::manager::event::EndHow;
use crate::optimizer::OptimizerId;
use crate::runner::{Message, ResultGroup, RunnerEnd};

/// One round: who is in it, what they asked, and what arrived.
#[derive(Default)]
struct Round {
    /// The members that have neither finished their batch nor ended.
    waiting: BTreeSet<OptimizerId>,
    /// With a budget: the evaluations each member announced, and whether the credit was granted.
    asked: BTreeMap<OptimizerId, u64>,
    granted: bool,
    /// What arrived, applied at the round's end in optimizer-id order.
    results: BTreeMap<OptimizerId, Vec<ResultGroup>>,
    ended: BTreeMap<OptimizerId, RunnerEnd>,
}

impl State<'_> {
    /// The run in rounds, until it ends; returns between rounds (or at once after a second
    /// interrupt, with what arrived logged).
    pub(super) fn rounds(&mut self) -> Result<()> {
        // The check of the round end a resumed run's checkpoint was taken at (before any start).
        self.check_convergence();
        self.fill_slots()?;
        if self.m.settings.checkpoints.at_start && self.end.is_none() {
            self.take_checkpoint("at_start")?;
        }
        while !self.fill_or_finish()? {
            self.round()?;
            if self.m.interrupt.count() >= 2 {
                self.end.get_or_insert_with(|| EndReason::Interrupted { by: self.m.interrupt.cause() });
                return Ok(());
            }
            self.between_rounds()?;
        }
        Ok(())
    }

    /// Steps every live optimizer once, waits for all of them, and applies the round.
    fn round(&mut self) -> Result<()> {
        let mut round = Round::default();
        for (&id, live) in &mut self.live {
            if live.stop_cause.is_none() {
                live.control.step(1);
                live.at_boundary = false;
                // Waiting for the others' batches is not silence.
                live.last_feedback = Instant::now();
                round.waiting.insert(id);
            }
        }
        self.in_round = true;
        let waited = self.wait_for_round(&mut round);
        self.in_round = false;
        waited?;
        // Every member has finished or ended: apply the round in optimizer-id order, each
        // optimizer's results before its end.
        let ids: BTreeSet<OptimizerId> = round.results.keys().chain(round.ended.keys()).copied().collect();
        for opt_id in ids {
            for results in round.results.remove(&opt_id).unwrap_or_default() {
                self.apply_results(opt_id, &results)?;
            }
            if let Some(end) = round.ended.remove(&opt_id) {
                self.handle(Message::Ended { opt_id, end })?;
            }
        }
        Ok(())
    }

    fn wait_for_round(&mut self, round: &mut Round) -> Result<()> {
        loop {
            // An abandoned runner (`force_terminations_after`) is not waited for.
            round.waiting.retain(|id| self.live.contains_key(id));
            if round.waiting.is_empty() || self.m.interrupt.count() >= 2 {
                return Ok(());
            }
            self.grant_round(round);
            if let Some(msg) = self.next_message()? {
                self.in_round(round, msg)?;
            }
        }
    }

    /// Books a message that arrived during a round.
    fn in_round(&mut self, round: &mut Round, msg: Message) -> Result<()> {
        if let Some(live) = self.live.get_mut(&msg.opt_id()) {
            live.last_feedback = Instant::now();
        }
        match msg {
            Message::Results { opt_id, results } => {
                round.results.entry(opt_id).or_default().push(results);
                Ok(())
            }
            // A runner abandoned earlier has had its end logged already.
            Message::Ended { opt_id, .. } if !self.live.contains_key(&opt_id) => Ok(()),
            Message::Ended { opt_id, end } => {
                round.waiting.remove(&opt_id);
                round.ended.insert(opt_id, end);
                Ok(())
            }
            Message::BatchDone { opt_id, .. } => {
                round.waiting.remove(&opt_id);
                if let Some(live) = self.live.get_mut(&opt_id) {
                    live.batches_done += 1;
                    live.at_boundary = true;
                }
                Ok(())
            }
            Message::Asked { opt_id, evaluations } => {
                round.asked.insert(opt_id, evaluations);
                Ok(())
            }
            msg @ (Message::Saved { .. } | Message::Replayed { .. }) => self.handle(msg),
        }
    }

    /// Once every member still in the round has announced its batch: grants each its whole batch in
    /// optimizer-id order while the budget (if any) lasts, with the `call_id` its first point will be
    /// logged under (the round is applied in that order), and stops those whose batch does not fit
    /// (they have started nothing).
    fn grant_round(&mut self, round: &mut Round) {
        if round.granted || !round.waiting.iter().all(|id| round.asked.contains_key(id)) {
            return;
        }
        round.granted = true;
        let budget = self.budget.unwrap_or(u64::MAX);
        let mut left = budget.saturating_sub(self.book.counters.evaluations);
        let mut next_call_id = self.book.counters.evaluations + 1;
        for (&opt_id, &asked) in &round.asked {
            if !round.waiting.contains(&opt_id) {
                continue;
            }
            if asked <= left {
                if let Some(live) = self.live.get_mut(&opt_id) {
                    live.control.grant_batch(asked, next_call_id);
                    live.granted += asked;
                }
                left -= asked;
                next_call_id += asked;
                continue;
            }
            let why =
                format!("its batch of {asked} evaluations does not fit in the {left} left of the budget");
            self.stop(opt_id, EndHow::Stopped { by: why.clone(), t_stop: Some(self.now()) });
            self.stop_spawning(&format!(
                "the evaluation budget is spent: the next batch of optimizer {opt_id} ({asked} evaluations) \
                 does not fit in the {left} left"
            ));
        }
    }

    /// Between two rounds: a hunt when one is due, the convergence check, the ends of the optimizers
    /// that were told to stop, and the checkpoints asked for.
    ///
    /// A run interrupted during the round (a signal, a second Ctrl-C excepted) still hunts and settles
    /// as it would have, so that its checkpoint is the state the uninterrupted run had after this
    /// round; the convergence check is left to the resumed run, which makes it first.
    fn between_rounds(&mut self) -> Result<()> {
        let interrupted =
            matches!(self.end, Some(EndReason::Interrupted { .. } | EndReason::Deadline { .. }));
        if (self.end.is_none() || interrupted)
            && self.book.counters.evaluations - self.book.last_hunt >= self.m.settings.hunt_frequency
        {
            self.hunt()?;
        }
        self.check_convergence();
        self.settle()?;
        if self.end.is_some() {
            return Ok(());
        }
        self.evaluations_trigger()?;
        if let Some(reason) = self.deferred_checkpoint.take() {
            self.want_checkpoint(&reason)?;
        }
        if let Some(reason) = self.taking.as_ref().map(|t| t.reason().to_owned()) {
            self.take_checkpoint(&reason)?;
        }
        Ok(())
    }

    /// Waits until every optimizer that was told to stop has ended: they wait at a batch boundary, so
    /// they end at once, and the next round's starts do not depend on when they did.
    fn settle(&mut self) -> Result<()> {
        while self.live.values().any(|l| l.stop_cause.is_some()) && self.m.interrupt.count() < 2 {
            if let Some(msg) = self.next_message()? {
                self.handle(msg)?;
            }
        }
        Ok(())
    }
}
