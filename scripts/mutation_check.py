# ruff: noqa: E501  (the mutant table: one mutant per line, exact source snippets)
"""Targeted mutation run over the decider's loop, anticipator, strategy helpers and the analyzer's situation.

Applies one hand-written mutant at a time (flipped comparisons, dropped branches, swapped clocks) to a
COPY of the code, runs the given fast tests, and sorts each mutant: *killed* (a test failed),
*survived* (the tests passed), *error* (the run could not judge it: a collection or import error, no
test collected, longer than ``MUTATION_TIMEOUT_S``, default 600) or *skipped* (its snippet is not
exactly once in the file any more: not applied, and not in the total). Usage::

    git archive HEAD | tar -x -C /tmp/arca-mut
    python scripts/mutation_check.py /tmp/arca-mut after tests/decider/test_decider_loop.py \
        tests/decider/test_decider_anticipation.py tests/analyzer/test_analyzer_situation.py

``MUTANTS_SET=demofast`` runs issue 24's demo speed-up mutants (the workers' order, the OpenStack driver's
reads shared within a reconcile pass) with ``tests/demo/test_demo_schedule.py
tests/enforcer/test_enforcer_openstack.py``; ``MUTANTS_SET=overlap`` runs the mutants of issue 23's overlaps and cold start (the floor's rounding,
the baseline past every sample, the lender, the ceiling, the demo's prior) instead;
``MUTANTS_SET=warm`` runs the warm-pool mutants (issue 11; issue 23's refill after a failure: ``pool_refills``) instead; ``MUTANTS_SET=objective`` the
discard objective's sizing and the pool-aware floor (issue 23; warm23c: the first-round raise served from
the pool, ``arca:discardObjectiveBound``, with ``tests/decider/test_decider_warm_early.py
tests/decider/test_decider_warm_bound.py tests/decider/test_decider_warm_objective.py
tests/decider/test_decider_warm_loop.py``); ``MUTANTS_SET=store`` the backoff,
barrier and take-over mutants (issues 20 and 21); ``MUTANTS_SET=phases`` every mutant of
``arca/decider/loop.py`` (the phases ``decide`` is composed of, issue 21) and of ``arca/incidents.py``
(the incident rules two of them call, moved there by issue 19); ``MUTANTS_SET=detectors`` issue 23's
imperfect detectors (false alarms released at their first round with no rise, the source records,
their calibration and storage) with ``tests/decider/test_decider_detectors.py tests/decider/test_decider_loop.py
tests/decider/test_decider_phases.py tests/decider/test_decider_overlaps.py``; ``MUTANTS_SET=osm`` the choice of
OSM scaling aspects (``arca/enforcer/osm_plan.py``, issue 23) with ``tests/enforcer/test_enforcer_osm_plan.py
tests/enforcer/test_enforcer_osm.py tests/testbed/test_testbed_osm.py``; ``MUTANTS_SET=ingest`` the
collector's HTTP ingest of issue 24 (the YANG shortcut, the string check, the event route, the HTTP
workers) with ``tests/collector/test_collector_yang_shortcut.py tests/collector/test_collector_events.py
tests/collector/test_collector_hostile_input.py tests/collector/test_collector_http.py
tests/collector/test_collector_restconf_errors.py tests/collector/test_collector_http_workers.py``
(its second pass's mutants — the depth bound's shortcut, the router's memo, ``derived_id``, the CPU
pinning, the bus's confirm path, corked writes and waiter — with ``tests/collector/test_collector_json_depth.py
tests/collector/test_collector_router_memo.py tests/collector/test_collector_http_pinning.py
tests/spine/test_spine_derived_id.py tests/spine/test_spine_rabbit_confirm_path.py``);
``MUTANTS_SET=peak`` issue 23's window peak and cancelled boots (overlap23b: the collector's peak reads, the
analyzer's peak demand, the anticipator's peak samples and the floors they make, the decider's peak
lesson, the enforcer's rule 4a) with ``tests/decider/test_decider_peak.py
tests/collector/test_collector_telemetry.py tests/analyzer/test_analyzer_situation.py
tests/enforcer/test_enforcer_planning.py tests/enforcer/test_enforcer_openstack.py``;
``MUTANTS_SET=capacity`` issue 24 item 7's fixes (the tick gate, a tick as one driver pass, the
listing indexed once) with ``tests/spine/test_spine_tick_gate.py tests/enforcer/test_enforcer_openstack.py``;
``MUTANTS_SET=refits`` the decider's refits on their own thread (issue 24 item 4) with
``tests/decider/test_decider_refits.py tests/decider/test_decider_fitting.py tests/decider/test_decider_service.py``;
``MUTANTS_SET=hold`` issue 23 item 7's servants held between incidents when new ones come after the burst
(``arca/decider/hold.py``, its use in the loop, the demo's objective through OSM) with
``tests/decider/test_decider_hold.py tests/demo/test_demo_osm.py::test_the_demos_arca_states_a_discard_objective_only_through_osm``;
``MUTANTS_SET=linked`` issue 24 item 2's incident nodes linked, not described again, by a system's next
situation (``arca/analyzer/stored.py``, ``store_message(stored=)``) with ``tests/analyzer/test_analyzer_stored.py``;
``MUTANTS_SET=firstpeak`` stop 34's first-round assessment by the window's peak and the mutants of the
assessment it re-pointed (``arca/decider/loop.py``) with ``tests/decider/test_decider_detectors.py
tests/decider/test_decider_overlaps.py tests/decider/test_decider_warm_early.py tests/decider/test_decider_phases.py``;
``MUTANTS_SET=bus`` the delivery thread's planner, the FIFO fast path and the text encoder (issue 24)
with ``tests/spine/test_spine_delivery_order.py tests/spine/test_spine_roundtrip.py`` (its two settle
mutants with ``tests/spine/test_spine_settle_wakes.py``).
``ONLY="desc|desc"`` restricts the run to the mutants so described. Never point it at a worktree:
a killed run leaves the current mutant in place.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

MUTANTS = [
 ('arca/decider/loop.py', 'max(floor.msa, correction or 0)', 'floor.msa', 'correction not held above the floor'),
 ('arca/decider/loop.py', 'if needed < floor.msa:', 'if needed > floor.msa:', 'MSA floor comparison flipped'),
 ('arca/decider/loop.py', '            current = floor.msa\n', '            pass\n', 'correction below the MSA not raised to it'),
 ('arca/decider/loop.py', '        correction = needed\n', '        correction = needed if out else None\n', 'scale-in correction forgotten (flap root cause)'),
 ('arca/decider/loop.py', 'cooling = not anticipations and _cooling(', 'cooling = bool(anticipations) or _cooling(', 'cool-downs applied during anticipation'),
 ('arca/decider/loop.py', 'cooling = not anticipations and _cooling(', 'cooling = _cooling(', 'cool-downs during anticipation (drop the guard)'),
 ('arca/decider/loop.py', 'current, correction, rule = default, None, why', 'current, correction, rule = (current if why == "incident-ended" else default), None, why', 'incident ended: not back to the default'),
 ('arca/incidents.py', 'return (now - onset).total_seconds() > expiration_s', 'return (now - onset).total_seconds() >= expiration_s', 'expiration boundary'),
 ('arca/decider/loop.py', 'current, correction, rule = default, None, why', 'current, correction, rule = (current if why == "expired" else default), None, why', 'expired: not back to the default'),
 ('arca/decider/loop.py', 'current=floor.msa if floor is not None else current,', 'current=current,', 'no reset to the MSA when acceptable'),
 ('arca/decider/loop.py', 'replace(unchanged, correction=None, current=', 'replace(unchanged, current=', 'correction kept when acceptable'),
 ('arca/decider/loop.py', 'still_expired = frozenset(e for e in expired if e in reported)', 'still_expired = frozenset(expired)', 'expired set never pruned'),
 ('arca/decider/loop.py', 'if (ident, sev) not in known and (ident, sev) not in still_expired:', 'if (ident, sev) not in known:', 'expired incident re-anticipated'),
 ('arca/decider/loop.py', 'live = tuple(a for a in anticipations if measured_elapsed(situation, a.onset) >= 0)', 'live = tuple(anticipations)', 'load before the onset learned'),
 ("arca/decider/loop.py", "total = top + sum(max(0.0, v - default) for v in rest)", "total = top + sum(v - default for v in rest)", "sum: negative extras subtract"),
 ("arca/decider/loop.py", '    if how == "max":\n        return top\n', "", "max combine behaves as sum"),
 ("arca/decider/loop.py", "weights = extras if sum(extras) > 0 else [float(s) for s in severities]", "weights = [1.0 for _ in severities]", "shares ignore predictions and severity"),
 ("arca/decider/loop.py", "out = needed > expected", "out = needed >= expected", "out/in direction boundary"),
 ('arca/decider/loop.py', 'now if out else last_scale_out, last_scale_in if out else now', 'last_scale_out if out else now, now if out else last_scale_in', 'cool-down clocks swapped'),
 ("arca/decider/loop.py", "since = seconds(now, max(changes))", "since = seconds(now, min(changes))", "cool-down counts from the oldest change"),
 ("arca/decider/loop.py", "if needed > current and policy.scale_out_cooldown_s - since > 0:", "if needed >= current and policy.scale_out_cooldown_s - since > 0:", "scale-out cool-down boundary"),
 ("arca/incidents.py", "if i.severity > 0 and not i.detected_from_load]", "if i.severity > 0]", "load-detected incidents anticipated"),
 ('arca/decider/loop.py', 'ended=bool(anticipations) and not antics)', 'ended=not antics)', 'incident-ended when there was none'),
 ("arca/decider/anticipator.py", "if len(same) > self.config.per_bucket:", "if len(same) >= self.config.per_bucket:", "per-bucket count off by one"),
 ("arca/decider/anticipator.py", "excess = set(map(id, same[: len(same) - self.config.per_bucket]))", "excess = set(map(id, same[self.config.per_bucket:]))", "decimation drops the newest"),
 ("arca/decider/anticipator.py", "            dropped.extend(kept[: len(kept) - self.config.max_samples])\n            kept = kept[len(kept) - self.config.max_samples:]", "            dropped.extend(kept[self.config.max_samples:])\n            kept = kept[:self.config.max_samples]", "cap drops the newest"),
 ("arca/decider/anticipator.py", "if len(kept) > self.config.max_samples:", "if len(kept) > self.config.max_samples + 1:", "cap off by one"),
 ("arca/decider/anticipator.py", "same = [s for s in kept if s.bucket == sample.bucket]", "same = [s for s in kept if s.severity == sample.severity]", "bucket ignores elapsed"),
 ("arca/decider/anticipator.py", "abs(e - s.elapsed_s) <= SAMPLE_REACH_S for e in reach.get(s.severity, ())", "False for e in reach.get(s.severity, ())", "priors never yield"),
 ("arca/decider/anticipator.py", "(severity / k)", "1.0", "borrowed curve not scaled"),
 ("arca/decider/anticipator.py", "todo = ~self._covered(severity, ela)", "todo = np.zeros(ela.shape, dtype=bool)", "never borrow"),
 ("arca/decider/anticipator.py", "return None if out is None else float(out.max())", "return None if out is None else float(out[0])", "floor ignores the lead time"),
 ("arca/decider/anticipator.py", "return math.floor(prediction + 0.5)", "return math.floor(prediction)", "amount rounded down"),
 ("arca/decider/anticipator.py", "y = np.concatenate([y, np.zeros_like(span)])", "y = np.concatenate([y, np.ones_like(span)])", "severity-0 anchors wrong"),
 ("arca/decider/strategy.py", "max(1, math.ceil(demand / policy.high_threshold - 1e-9))", "max(1, math.ceil(demand / policy.high_threshold))", "needed without tolerance"),
 ("arca/decider/strategy.py", "return policy.low_threshold <= load <= policy.high_threshold", "return policy.low_threshold < load <= policy.high_threshold", "acceptable band low boundary"),
 ("arca/decider/strategy.py", "if amount == needed_for(demand, policy):\n        return True\n", "", "exact amount not acceptable by itself"),
 ("arca/decider/strategy.py", "if last_load_time is not None and t <= last_load_time:", "if last_load_time is not None and t < last_load_time:", "same telemetry corrected twice"),
 ("arca/decider/strategy.py", "served = max(0.05, 1.0 - situation.discard_ratio)", "served = 1.0 - situation.discard_ratio + 1e-9", "served share unbounded"),
 ("arca/decider/strategy.py", 'if "scale-out" not in policy.allowed_actions and target > actual:', 'if "scale-out" not in policy.allowed_actions and target < actual:', "scale-out ban flipped"),
 ("arca/decider/strategy.py", "return None if situation.discard_ratio == 0 else 1.0", "return None", "no servants + discards: unknown demand"),
 ("arca/analyzer/situation.py", "for key in [k for k, v in self.incidents.items() if now - v.onset > ttl]:", "for key in [k for k, v in self.incidents.items() if now - v.onset > ttl * 2]:", "incidents live twice as long"),
 ("arca/analyzer/situation.py", "alive = [v for v in self.incidents.values() if v.onset <= now]", "alive = list(self.incidents.values())", "future incidents active"),
 ("arca/analyzer/situation.py", "                                           detected_from_load=v.detected_from_load) for v in alive),", "                                           detected_from_load=v.detected_from_load) for v in alive[-1:]),", "only the latest incident in the situation (the old bug)"),
 ("arca/analyzer/situation.py", "            self.incidents.pop(event.event_id, None)\n            return None", "            return None", "cancelled incident kept"),
 ("arca/analyzer/situation.py", "if (self.jump_rounds >= self.config.jump_rounds and not announced", "if (self.jump_rounds > self.config.jump_rounds and not announced", "load detection one round late"),
 ("arca/analyzer/situation.py", "return sorted(alive, key=lambda v: (v.onset, v.severity, v.incident_id))", "return alive", "incidents unordered"),
 ("arca/analyzer/situation.py", "del self.incidents[key]  # a detector spoke", "pass  # a detector spoke", "load-detected guess not superseded"),
 ("arca/decider/loop.py", "if p is not None and p >= policy.default_servants + UNCONFIRMED_MARGIN:", "if p is not None and p > policy.default_servants:", "unconfirmed: any expectation above the default"),
 ("arca/decider/loop.py", "if p is not None and p >= policy.default_servants + UNCONFIRMED_MARGIN:", "if False:", "unconfirmed incidents never end early"),
 ("arca/decider/loop.py", "quiet = needed is not None and needed <= policy.default_servants\n", "quiet = needed is not None and needed <= policy.default_servants + 1\n", "unconfirmed: a smaller burst taken for none"),
 ('arca/decider/loop.py', '        unconfirmed.add((a.incident_id, a.severity))\n', '', 'unconfirmed incident re-anticipated'),
 ('arca/decider/loop.py', '                        ended=not kept, records=', '                        ended=False, records=', 'unconfirmed: not back to the default'),
 ('arca/decider/loop.py', 'return Confirmation(tuple(kept), expired | unconfirmed', 'return Confirmation(tuple(anticipations), expired | unconfirmed', 'unconfirmed incident kept'),
 ("arca/decider/loop.py", "model, removed = model.without(a.learned_ids)", "removed = []", "unconfirmed: learned samples kept"),
 ("arca/decider/loop.py", "antics[i] = replace(a, learned_ids=(*a.learned_ids, sid))", "antics[i] = a", "samples learned from an incident not tracked"),
 ("arca/decider/hpa.py", "if missing and ratio < 1.0:", "if missing and ratio <= 1.0:", "hpa: missing filled when exactly on target"),
 ("arca/decider/hpa.py", "total, counted = total + missing * 1.0, counted + missing", "total, counted = total + missing * target_load, counted + missing", "hpa: missing at 100 % of the target, not of the request"),
 ("arca/decider/hpa.py", "rebalance_unready = unready > 0 and ratio > 1.0", "rebalance_unready = unready > 0", "hpa: unready counted when scaling in"),
 ("arca/decider/hpa.py", "if (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):", "if ratio < 1.0 < new_ratio:", "hpa: out-to-in flip not caught"),
 ("arca/decider/hpa.py", "if (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):", "if ratio > 1.0 > new_ratio:", "hpa: in-to-out flip not caught"),
 ("arca/decider/hpa.py", "if (new_ratio < 1.0 and desired > current) or (new_ratio > 1.0 and desired < current):", "if new_ratio > 1.0 and desired < current:", "hpa: desired against a scale-in ratio"),
 ("arca/decider/hpa.py", "    reporting = min(reporting, ready)\n", "", "hpa: more reporting than ready"),
 ("arca/decider/hpa.py", "if reporting <= 0:", "if reporting < 0:", "hpa: no figure at all not skipped"),
 ("arca/decider/hpa.py", "elif missing and ratio > 1.0:\n        counted += missing", "elif missing and ratio > 1.0:\n        pass", "hpa: missing not counted at 0 % on scale-out"),
 ("arca/decider/baselines.py", "if situation.servants_reporting is not None:", "if False:", "proportional ignores who reported"),
 ("arca/analyzer/situation.py", "servants_reporting=len(self._window_cpu()) if known else None,", "servants_reporting=active if known else None,", "reporting = active"),
 ("arca/kb/sparql.py", "        sw.setOnlyConneg(True)\n", "", "sparql: format= parameters added to queries"),
 ("arca/kb/sparql.py", "sw.queryString, sw.queryType = with_prefixes(text), kind", "sw.setQuery(with_prefixes(text))", "sparql: query kind guessed from the text"),
 ("arca/kb/sparql.py", "        return int(cause.code)\n", "        return 500\n", "sparql: every HTTP error is a 500"),
 ("arca/kb/sparql.py", "            sw.setCredentials(*self._credentials)\n", "", "sparql: no basic auth on query/update"),
 ("arca/policy.py", "merged = {**loaded, **applied}", "merged = {**applied, **loaded}", "scales: a loaded scale wins over the applied one"),
 ("arca/policy_history.py", "for lower in sorted(set(a) | set(b)) if a.get(lower) != b.get(lower)]", "for lower in sorted(set(a) | set(b))]", "scale diff lists unchanged steps"),
 ("arca/app/demo/harness.py", "bounds = {\"maxServants\": params.initial_servants + tb.osm.max_scale} if osm else {}", "bounds = {}", "osm demo: policy bound not the scaling group"),
 # issue 15 (scale): delivery order, folding, numpy RBF, batched floors, encode once, JSON server pages
 ("arca/bus/order.py", "if key is not None and key in covered:", "if key is not None:", "fold whatever has a key"),
 ("arca/bus/order.py", "        covered.update(covers)\n    superseded.reverse()", "        covered.update(covers) if not slot.done else None\n    superseded.reverse()", "a handled newer delivery covers nothing"),
 ("arca/bus/order.py", "elif best is None or (urgency, i) <= best:", "elif best is None or (urgency, i) >= best:", "least urgent, newest first"),
 ("arca/bus/order.py", "    superseded.reverse()\n", "", "superseded listed newest first"),
 ("arca/bus/order.py", "if not slot.done and (best is None or (_FIRST, i) <= best):", "if not slot.done and best is None:", "undecodable not first"),
 ("arca/decider/service.py", 'return 0 if isinstance(message, Situation) and message.trigger == "event" else 1', "return 1", "event situations not urgent"),
 ("arca/decider/service.py", 'return ("event" if message.trigger == "event" else "any", message.system)', 'return ("any", message.system)', "event situation folded into telemetry"),
 ("arca/decider/service.py", '        return (("any", message.system), ("event", message.system))', '        return (("any", message.system),)', "event burst not folded"),
 ("arca/decider/service.py", "    if isinstance(message, PolicyUpdated):\n        return -1\n    return 0 if isinstance(message, Situation)", "    return 0 if isinstance(message, Situation)", "policy not first in the decider"),
 ("arca/analyzer/service.py", "return 0 if isinstance(message, ExternalEvent) else 1", "return 1", "analyzer events not urgent"),
 ("arca/decider/anticipator.py", "            sq += d * d", "            sq += d", "RBF distance not squared"),
 ("arca/decider/anticipator.py", "kernel = np.exp(-self.gamma * sq)", "kernel = np.exp(-sq)", "RBF gamma ignored"),
 ("arca/decider/anticipator.py", "out: np.ndarray = kernel @ self.dual_coef + self.intercept", "out: np.ndarray = kernel @ self.dual_coef", "RBF intercept dropped"),
 ("arca/decider/anticipator.py", "grid = np.linspace(start, start + max(0.0, lead_s), n, axis=1)", "grid = np.linspace(start, start + lead_s / 2, n, axis=1)", "batched floors over half the lead"),
 ("arca/decider/anticipator.py", "predicted.reshape(len(ks), n).max(axis=1)", "predicted.reshape(len(ks), n).min(axis=1)", "batched floors take the minimum"),
 ("arca/messages/codec.py", "        while len(_recent) > _RECENT_MAX:", "        while False:", "encode cache unbounded"),
 ("arca/collector/gnocchi.py", 'if not _more(data, len(page), page_size) or page[-1]["id"] == params.get("marker"):', "if True:", "server list: first page only"),
 ("arca/collector/gnocchi.py", "return got > 0 and (linked or got >= page_size)", "return got > 0 and linked", "server list: a full page is not a next page"),
 ("arca/collector/gnocchi.py", 'if not isinstance(s, dict) or not isinstance(s.get("id"), str):', "if not isinstance(s, dict):", "server without a string id accepted"),
 # issue 21 (decide as phases): mutants of the phase functions of arca/decider/loop.py
 ('arca/decider/loop.py', 'antics = [a for a in anticipations if (a.incident_id, a.severity) in reported]', 'antics = list(anticipations)', 'unreported incident kept'),
 ('arca/decider/loop.py', '    reasons = [f"incident {a.incident_id} no longer reported" for a in anticipations\n               if (a.incident_id, a.severity) not in reported]', '    reasons = []', 'unreported incident not said'),
 ('arca/decider/loop.py', 'known = {(a.incident_id, a.severity) for a in antics}', 'known: set[tuple[str, int]] = set()', 'anticipated incident restarted'),
 ('arca/decider/loop.py', 'antics.append(Anticipation(ident, sev, onset, since=now, source=', 'antics.append(Anticipation(ident, sev, onset, since=onset, source=', 'anticipated since the onset, not now'),
 ('arca/decider/loop.py', '    if detected_from_load:\n', '    if False:\n', 'load-detected incident not said'),
 # issue 19: a cold decision says it anticipates nothing
 ('arca/decider/loop.py', 'trained=st.anticipator.trained, sources=', 'trained=True, sources=', 'cold decision said anticipated'),
 ('arca/decider/loop.py', 'reasons.append(f"incident {ident} severity {sev} anticipated" if trained else', 'reasons.append(f"incident {ident} severity {sev} anticipated" if True else', 'cold reason never given'),
 ('arca/decider/loop.py', 'if incidents.expired(a.onset, now, expiration_s):', 'if incidents.expired(a.since, now, expiration_s):', 'expiry counted from the anticipation, not the onset'),
 ('arca/decider/loop.py', 'return Expiry(tuple(alive), expired | ended,', 'return Expiry(tuple(alive), expired,', 'expired incident not remembered'),
 ('arca/decider/loop.py', 'all_ended = bool(anticipations) and not alive', 'all_ended = not alive', 'expired when nothing was anticipated'),
 ('arca/decider/loop.py', 'if not (anticipations and model.trained and load_round(situation, last_load_time) is not None):', 'if not (anticipations and model.trained):', 'unconfirmed without a telemetry round'),
 ('arca/decider/loop.py', 'if not (anticipations and model.trained and load_round(situation, last_load_time) is not None):', 'if not (anticipations and load_round(situation, last_load_time) is not None):', 'unconfirmed by a cold model'),
 ('arca/decider/loop.py', '        if e_m < 0 or needed is None:', '        if e_m <= 0 or needed is None:', 'unconfirmed: load at the onset not judged'),
 ('arca/decider/loop.py', '        if e_m < 0 or needed is None:', '        if needed is None:', 'unconfirmed by load measured before the incident'),
 ('arca/decider/loop.py', 'return Confirmation(tuple(kept), expired | unconfirmed,', 'return Confirmation(tuple(kept), expired,', 'unconfirmed incident not remembered'),
 ('arca/decider/loop.py', '            forgotten.extend(removed)\n', '', 'unconfirmed: forgotten samples not reported'),
 ('arca/decider/loop.py', '    if not kept:\n        reasons.append(f"back to the default {policy.default_servants}")\n', '', 'unconfirmed: back to the default not said'),
 ('arca/decider/loop.py', 'raws = model.floors([(a.level, seconds(now, a.onset)) for a in antics], policy.lead_time_s)', 'raws = model.floors([(a.level, seconds(now, a.onset)) for a in antics], 0.0)', 'floor ignores the lead time (loop)'),
 ('arca/decider/loop.py', 'raws = model.floors([(a.level, seconds(now, a.onset)) for a in antics], policy.lead_time_s)', 'raws = model.floors([(a.level, seconds(now, a.since)) for a in antics], policy.lead_time_s)', 'floor counted from the anticipation, not the onset'),
 ('arca/decider/loop.py', 'short = model.floor(a.level, seconds(now, a.onset), policy.resume_lead_time_s)', 'short = model.floor(a.level, seconds(now, a.onset), policy.lead_time_s)', 'warm: resume lead ignored'),
 ('arca/decider/loop.py', '        floors[k], antics[k] = a.settle(floors[k])\n', '', 'floor not settled (rises again)'),
 ('arca/decider/loop.py', '        floors[k], antics[k] = a.settle(floors[k])\n', '        floors[k], _ = a.settle(floors[k])\n', 'settled floor not remembered'),
 ('arca/decider/loop.py', '    if policy.compliant(amount):\n', '    if True:\n', 'non-compliant floor used as is'),
 ('arca/decider/loop.py', 'predicted = combine(floors, policy.default_servants, how, model.ceiling()', 'predicted = combine(floors, policy.default_servants, ceiling=model.ceiling()', 'floor: combine setting ignored'),
 ('arca/decider/loop.py', 'if demand is None or (floor is not None and not live):', 'if demand is None:', 'load before every incident overrules the anticipation'),
 ('arca/decider/loop.py', '    unchanged = replace(unchanged, last_load_time=round_time)\n', '', 'telemetry round not recorded'),
 ('arca/decider/loop.py', 'p = model.predict_one(a.level, measured_elapsed(situation, a.onset))', 'p = model.predict_one(a.level, seconds(now, a.onset))', 'expected at the decision time, not the measured time'),
 ('arca/decider/loop.py', 'expected = policy.clamp(floor_amount(combine(at_load, policy.default_servants, how, ceiling),', 'expected = policy.clamp(floor_amount(combine(at_load, policy.default_servants, ceiling=ceiling),', 'expected: combine setting ignored'),
 ('arca/decider/loop.py', 'expected = policy.clamp(floor_amount(combine(at_load, policy.default_servants, how, ceiling),', 'expected = current + 0 * policy.clamp(floor_amount(combine(at_load, policy.default_servants, how, ceiling),', 'expected is the current amount while anticipating'),
 ('arca/decider/loop.py', 'Lesson(live, needed, tuple(at_load), out, ceiling) if live else None', 'Lesson(live, needed, tuple(at_load), out, ceiling)', 'lesson without a live incident'),
 ('arca/decider/loop.py', 'Lesson(live, needed, tuple(at_load), out, ceiling) if live else None', 'None', 'corrections never learned'),
 ('arca/decider/loop.py', '            reasons.append(f"held at the MSA {floor.msa}")\n', '', 'held at the MSA not said'),
 ('arca/decider/loop.py', 'sid = f"{situation.system}-{situation.message_id}" + (f"-{k}" if k else "")', 'sid = f"{situation.system}-{situation.message_id}"', 'incidents of one situation learn under one id'),
 ('arca/decider/loop.py', 'sample = LearnedSample(a.level, round(e_m, 3), amount, learned_at=now, sample_id=sid,', 'sample = LearnedSample(a.level, round(e_m, 3), amount, learned_at=None, sample_id=sid,', 'learned without its time'),
 ('arca/decider/loop.py', 'sample = LearnedSample(a.level, round(e_m, 3), amount, learned_at=now, sample_id=sid,', 'sample = LearnedSample(a.level, round(e_m), amount, learned_at=now, sample_id=sid,', 'elapsed time rounded to the second'),
 ('arca/decider/loop.py', '        forgotten.extend(dropped)\n', '', 'decimated samples not reported'),
 ('arca/decider/loop.py', '"learned-out" if lesson.out else "learned-in")', '"learned-out")', 'learned-in said learned-out'),
 ('arca/decider/loop.py', 'amount = policy.clamp(to_amount(share))', 'amount = to_amount(share)', 'share not clamped'),
 ('arca/decider/loop.py', 'lesson.predicted or [float(policy.default_servants)] * len(live)', 'lesson.predicted or [0.0] * len(live)', 'cold shares from zero, not the default'),
 ('arca/decider/loop.py', 'reasons = [*reported.reasons, *calibration, *alive.reasons, *confirmed.reasons, *assessed,', 'reasons = [*reported.reasons, *calibration, *confirmed.reasons, *assessed,', 'decide: expiry reasons dropped'),
 ('arca/decider/loop.py', '        forgotten = confirmed.forgotten\n', '        forgotten: tuple[LearnedSample, ...] = ()\n', 'decide: unconfirmed samples not forgotten in the store'),
 ('arca/decider/loop.py', 'model, antics = confirmed.model, confirmed.kept', 'model, antics = st.anticipator, confirmed.kept', 'decide: model of before the confirmation'),
 ('arca/decider/loop.py', 'expired=confirmed.expired,', 'expired=reported.expired,', 'decide: expired of before expiry'),
]

WARM_MUTANTS = [
 ("arca/enforcer/planning.py", "        return not warm\n", "        return True\n", "warm: standby servants broken"),
 ("arca/enforcer/planning.py", "    count = len(live) + len(pending_creates) + len(resuming)\n", "    count = len(live) + len(pending_creates)\n", "warm: resuming not counted"),
 ("arca/enforcer/planning.py", "    pool = len(ready) + len(entering) + len(refills)\n", "    pool = len(ready)\n", "warm: pool ignores standby and refills in flight"),
 ("arca/enforcer/planning.py", "            for s in sorted(ready, key=lambda s: s.name)[:deficit]:", "            for s in sorted(ready, key=lambda s: s.name)[:0]:", "warm: scale-out never resumes"),
 ("arca/enforcer/planning.py", "            for name in sorted(refills)[:deficit]:", "            for name in sorted(refills)[:0]:", "warm: refills never claimed"),
 ("arca/enforcer/planning.py", "            deficit -= min(deficit, len(ready))\n", "", "warm: resumed servants created too"),
 ("arca/enforcer/planning.py", "            room = max(0, pool_target - pool) if warm and bounds.warm_reuse else 0", "            room = max(0, pool_target - pool) if warm else 0", "warm: reuse on scale-in ignored"),
 ("arca/enforcer/planning.py", "                if room > 0 and s.status == \"active\":", "                if room >= 0 and s.status == \"active\":", "warm: pool target ignored on scale-in"),
 ("arca/enforcer/planning.py", "    growing = bool(in_flight.creating or in_flight.resuming or in_flight.claimed)", "    growing = bool(in_flight.creating)", "warm: scale-in during a resume"),
 ("arca/enforcer/planning.py", "    return max(0, pool_target - pool - returning, spares - pool)", "    return max(0, pool_target - pool - returning - 1, spares - pool)", "warm: refill one short"),
 ("arca/enforcer/planning.py", "    returning = max(0, max(count, target) - bounds.min_servants) if bounds.warm_reuse else 0", "    returning = 0", "warm: resumes refilled by boots despite reuse"),
 # issue 23 (warm23b): a failed servant's place refilled even during a burst
 ("arca/enforcer/planning.py", "    return max(0, pool_target - pool - returning, spares - pool)", "    return max(0, pool_target - pool - returning)", "warm: failures not refilled during a burst"),
 ("arca/enforcer/planning.py", "    spares = min(pool_target, failed)", "    spares = failed", "warm: failures refilled beyond the decision's pool"),
 ("arca/enforcer/planning.py", "    spares = min(pool_target, failed)", "    spares = pool_target", "warm: the whole pool refilled during a burst"),
 ("arca/enforcer/planning.py", "    return max(0, pool_target - pool - returning, spares - pool)", "    return max(0, pool_target - pool - returning, spares)", "warm: a failure refilled again while its refill is in flight"),
 ("arca/enforcer/planning.py", "    missing = pool_refills(pool, pool_target, count, target, bounds, len(broken))", "    missing = pool_refills(pool, pool_target, count, target, bounds, 0)", "warm: the planner passes no failure"),
 ("arca/enforcer/planning.py", "    returning = max(0, max(count, target) - bounds.min_servants) if bounds.warm_reuse else 0", "    returning = max(0, count - bounds.min_servants) if bounds.warm_reuse else 0", "warm: returning ignores the target"),
 ("arca/enforcer/planning.py", "    returning = max(0, max(count, target) - bounds.min_servants) if bounds.warm_reuse else 0", "    returning = max(0, max(count, target) - bounds.min_servants)", "warm: returning counted without reuse"),
 ("arca/enforcer/planning.py", "    elif warm and pool > pool_target:", "    elif warm and pool > pool_target + 1:", "warm: pool over target kept"),
 ("arca/enforcer/planning.py", "    pool_target = max(0, min(pool_target, bounds.warm_max)) if warm else 0", "    pool_target = max(0, pool_target) if warm else 0", "warm: pool target not clipped"),
 ("arca/enforcer/actions.py", "            return False  # a transition in flight (ours, before a restart, or another): wait\n        if server.standing_by:", "        if server.standing_by:", "warm: resume asked again during a transition"),
 ("arca/enforcer/model.py", "        return max(self.warm_min, min(self.warm_max, self.warm_min if asked is None else asked))", "        return self.warm_min", "warm: decision's pool size ignored"),
 ("arca/enforcer/reconciler.py", "and isinstance(action, CreateServant | ResumeServant | RefillPool | StandbyServant)):", "and isinstance(action, CreateServant | RefillPool | StandbyServant)):", "warm: failed resume not condemned"),
 ("arca/decider/loop.py", "        if pool and raw is not None:", "        if False and raw is not None:", "warm: loop ignores the pool"),
 ("arca/decider/loop.py", "            standby=pool,\n", "", "warm: decision without the pool size"),
 ("arca/decider/warm.py", "    return max(short, long - pool)", "    return short", "warm: boot horizon beyond the pool ignored"),
 ("arca/decider/warm.py", "            needs.append(to_amount(need) - policy.default_servants)", "            needs.append(to_amount(need))", "warm: auto size counts the running default"),
 ("arca/decider/warm.py", "    if policy.warm_pool_auto and model is not None and model.trained:", "    if model is not None and model.trained:", "warm: auto used when not asked"),
 ("arca/policy.py", "        return max(self.warm_pool_min, min(self.pool_max, size)) if self.warm else 0", "        return max(self.warm_pool_min, size) if self.warm else 0", "warm: pool size above the max"),
 ("arca/testbed/model.py", "        existing = [s for s in alive if s.status not in lifecycle.STANDBY_STATUSES]", "        existing = alive", "warm: standby billed as running"),
]
OBJECTIVE_MUTANTS = [  # issue 23: the warm pool sized for a discard objective, the pool-aware floor
 ("arca/decider/warm.py", "        if t >= resume_s:\n", "        if True:\n", "objective: the pool counted before its resume delay"),
 ("arca/decider/warm.py", "        if t >= lead_s:\n            break\n", "", "objective: shortfall counted after new servants boot"),
 ("arca/decider/warm.py", "max(0.0, msa * high - (default + pool))", "max(0.0, msa * high - default)", "objective: the pool serves nothing"),
 ("arca/decider/warm.py", "max(0.0, msa * high - (default + pool))", "max(0.0, msa - (default + pool))", "objective: demand is the MSA (high threshold ignored)"),
 ("arca/decider/warm.py", "        if expected <= objective:\n", "        if expected < objective:\n", "objective: met boundary"),
 ("arca/decider/warm.py", "expected = (ledger.discarded + short) / total if total > 0 else 0.0", "expected = short / total if total > 0 else 0.0", "objective: discard so far ignored"),
 ("arca/decider/warm.py", "        total = ledger.offered + volume\n", "        total = volume\n", "objective: demand offered so far ignored"),
 ("arca/decider/warm.py", "        if best is None or expected < best.expected:", "        if best is None or expected <= best.expected:", "objective: out of reach asks for the largest pool of the least discard"),
 ("arca/decider/warm.py", "    return best if best is not None else Sizing(low, expected, False)", "    return Sizing(max(low, high_pool), expected, False)", "objective: out of reach asks for the most allowed"),
 ("arca/decider/warm.py", "    for pool in range(low, max(low, high_pool) + 1):", "    for pool in range(0, max(low, high_pool) + 1):", "objective: pool below the policy's minimum"),
 ("arca/decider/warm.py", "        share = min(1.0, max(0.0, discard_ratio))\n", "        share = discard_ratio\n", "ledger: ratio not clamped"),
 ("arca/decider/warm.py", "        if demand <= 0 or seconds <= 0:\n            return self\n", "", "ledger: empty rounds counted"),
 ("arca/decider/warm.py", "    chosen = sizing(policy, model, ledger or Ledger())\n", "    chosen = None\n", "objective: pool size ignores the objective"),
 ("arca/decider/warm.py", "    if long - base <= pool:\n", "    if long - base < pool:\n", "warm floor: pool-covers boundary"),
 ("arca/decider/warm.py", "    return max(short, long)\n", "    return max(short, long - pool)\n", "warm floor: a short pool boots nothing at once"),
 ("arca/decider/loop.py", "pool = pool_size(policy, model, ledger) if self.anticipation else pool_size(policy)", "pool = pool_size(policy, model) if self.anticipation else pool_size(policy)", "loop: pool ignores the ledger"),
 ("arca/decider/loop.py", "    if load_round(situation, last_load_time) is None:\n        return ledger\n", "", "loop: ledger counts a round twice"),
 ("arca/decider/loop.py", "new_state = replace(st, anticipator=model, current=current, anticipations=antics, ledger=ledger,", "new_state = replace(st, anticipator=model, current=current, anticipations=antics,", "loop: ledger not kept"),
 ("arca/decider/loop.py", "            discard_measured=ledger.ratio,\n", "", "loop: measured ratio not reported"),
 ("arca/decider/loop.py", "                             incidents=ledger.incidents + len(noticed))", "                             incidents=ledger.incidents)", "loop: incidents not counted"),
 ("arca/decider/loop.py", "            late = seconds(now, max(a.onset for a in noticed))", "            late = 0.0", "loop: notification delay not measured"),
 ("arca/decider/warm.py", "    volume = max(burst, ledger.per_incident or 0.0)", "    volume = burst", "objective: quiet time per incident ignored"),
 ("arca/decider/warm.py", "        t = k * step_s - notice_s\n", "        t = k * step_s\n", "objective: notification delay ignored"),
 ("arca/decider/warm.py", "resume_s=policy.resume_lead_time_s + ACTION_S,", "resume_s=policy.resume_lead_time_s,", "objective: the enforcer's second ignored (resume)"),
 ("arca/decider/warm.py", "lead_s=policy.lead_time_s + ACTION_S, expect=", "lead_s=policy.lead_time_s, expect=", "objective: the enforcer's second ignored (boot)"),
 # warm23b: the next incident expected as the worst severity (EXPECT) or the mean of them
 ("arca/decider/warm.py", "short = (float(max(shorts)) if expect == \"worst\"", "short = (float(min(shorts)) if expect == \"worst\"", "objective: the mildest severity expected as the worst"),
 ("arca/decider/warm.py", "else float(np.mean(shorts))) if shorts else 0.0", "else float(max(shorts))) if shorts else 0.0", "objective: the mean expectation takes the worst"),
 ("arca/decider/warm.py", "step_s: float = 1.0, expect: Expect = EXPECT) -> Sizing:", "step_s: float = 1.0, expect: Expect = \"worst\") -> Sizing:", "objective: EXPECT not the default"),
 # warm23c: a severity raised at the first round is served from the pool (Anticipation.early, early_floor)
 ("arca/decider/loop.py", "                    early=a.level if guess and best > a.level else None)", "                    early=None)", "early: a first-round raise not remembered"),
 ("arca/decider/loop.py", "                    early=a.level if guess and best > a.level else None)", "                    early=a.level)", "early: a later round's move taken for a guess"),
 ("arca/decider/loop.py", "                   measured_elapsed(situation, x.onset) >= 1.5 * window else x for x in antics)", "                   measured_elapsed(situation, x.onset) > 1.5 * window else x for x in antics)", "early: kept at the next round's boundary"),
 ("arca/decider/loop.py", "    antics = tuple(replace(x, early=None) if x.early is not None and", "    antics = tuple(replace(x, early=x.early) if x.early is not None and", "early: never forgotten"),
 ("arca/decider/loop.py", "            if a.early is not None:  # a first-round raise", "            if False:  # a first-round raise", "early: the warm floor boots for the raise"),
 ("arca/decider/loop.py", "    return max(before, min(raised, float(policy.default_servants + pool)))", "    return raised", "early floor: the raised floor whole"),
 ("arca/decider/loop.py", "    return max(before, min(raised, float(policy.default_servants + pool)))", "    return min(raised, float(policy.default_servants + pool))", "early floor: the severity before ignored"),
 ("arca/decider/loop.py", "    return max(before, min(raised, float(policy.default_servants + pool)))", "    return max(before, min(raised, float(policy.default_servants + pool + 1)))", "early floor: one beyond the pool"),
 ("arca/decider/loop.py", "    before = warm_floor(short if short is not None else long, long, pool, policy.default_servants)", "    before = long", "early floor: the severity before over the boot delay only"),
 ("arca/decider/loop.py", "    if long is None:\n        return raised\n", "", "early floor: a cold severity before"),
 # warm23c: arca:discardObjectiveBound (a bound sizes the pool for the worst severity next)
 ("arca/decider/warm.py", "    return \"worst\" if policy.discard_objective_bound else EXPECT", "    return EXPECT", "bound: ignored"),
 ("arca/decider/warm.py", "    return \"worst\" if policy.discard_objective_bound else EXPECT", "    return \"worst\"", "bound: every objective a bound"),
 ("arca/decider/warm.py", "lead_s=policy.lead_time_s + ACTION_S, expect=expectation(policy))", "lead_s=policy.lead_time_s + ACTION_S)", "bound: sizing never told"),
 ("arca/policy.py", "    \"discardObjectiveBound\": (\"discard_objective_bound\", \"bool\"),\n", "", "bound: the term not read"),
 ("arca/decider/loop.py", "    kind = \" (a bound: the worst severity next)\" if policy.discard_objective_bound else \"\"", "    kind = \"\"", "bound: the reason does not say"),
 ("arca/app/demo/harness.py", "\"discardObjective\": 0.001, \"discardObjectiveBound\": True}", "\"discardObjective\": 0.001}", "bound: the demo's arca-warm states a target"),
 ("arca/app/demo/tradeoff.py", "policy_overrides={\"discardObjective\": objective, \"discardObjectiveBound\": False})", "policy_overrides={\"discardObjective\": objective})", "bound: the sweep inherits the demo's bound"),
]
STORE_MUTANTS = [  # issue 20/21: the backoff, the barrier sent at once, the take-over per activation
 ("arca/backoff.py", "        return self.rng.uniform(cap / 2, cap)", "        return cap", "backoff: no jitter"),
 ("arca/backoff.py", "        self.attempt += 1\n", "", "backoff: never grows"),
 ("arca/backoff.py", "min(self.max_s, self.initial_s * self.factor ** self.attempt)", "self.initial_s * self.factor ** self.attempt", "backoff: no ceiling"),
 ("arca/backoff.py", "        self.attempt = 0\n", "        pass\n", "backoff: reset forgets nothing"),
 ("arca/backoff.py", "if not 0 < self.initial_s <= self.max_s or self.factor < 1:", "if not 0 < self.initial_s or self.factor < 1:", "backoff: initial above max accepted"),
 ("arca/kb/base.py", "return self.status is not None and 400 <= self.status < 500", "return self.status is not None and 400 <= self.status <= 500", "store error: 500 taken for a refusal"),
 ("arca/kb/durable.py", "awaited = method is not None and bool((props.headers or {}).get(_BARRIER_HEADER))", "awaited = False", "writer: a barrier waits for the batching window"),
 ("arca/decider/service.py", "            if activations != self._barrier_activations:\n                self._barrier_activations = activations\n                self._taken = None", "            if True:\n                self._barrier_activations = activations\n                self._taken = None", "take-over: a barrier per system"),
 ("arca/decider/service.py", "self._fit(system, self._taken.samples.get(system, []))", "self._fit(system, [])", "take-over: snapshot samples dropped"),
 ("arca/decider/service.py", "saved = handover.parse(system, *raw) if raw is not None else None", "saved = None", "take-over: snapshot state dropped"),
]
OSM_MUTANTS = [  # issue 23 item 7: which OSM scaling aspects reach a servant count
 ("arca/enforcer/osm_plan.py", "    return a.scaled + a.delta + limits.initial <= limits.maximum", "    return True", "osm: OSM's per-aspect max ignored"),
 ("arca/enforcer/osm_plan.py", "    return a.scaled - a.delta + limits.initial >= limits.minimum", "    return True", "osm: scale-in by an aspect that added nothing"),
 ("arca/enforcer/osm_plan.py", "        fits = [a for a in ok if a.delta <= target - live]", "        fits = [a for a in ok if a.delta <= target - live + 1]", "osm: scale-out overshoots by one"),
 ("arca/enforcer/osm_plan.py", "            best = max(fits, key=lambda a: (a.delta, a.name))\n        elif ok:", "            best = min(fits, key=lambda a: (a.delta, a.name))\n        elif ok:", "osm: smallest fitting delta out"),
 ("arca/enforcer/osm_plan.py", "            best = min(ok, key=lambda a: (a.delta, a.name))", "            return None", "osm: no overshoot when nothing fits (target never reached)"),
 ("arca/enforcer/osm_plan.py", "and (max_servants is None or live + a.delta <= max_servants)]", "]", "osm: policy maximum ignored"),
 ("arca/enforcer/osm_plan.py", "        fits = [a for a in aspects if a.delta <= live - target and _accepted_in(a, limits)]", "        fits = [a for a in aspects if _accepted_in(a, limits)]", "osm: scale-in below the target"),
 ("arca/enforcer/osm_plan.py", "        best = max(fits, key=lambda a: (a.delta, a.name))\n        return ScaleOp(best.name, \"SCALE_IN\"", "        best = min(fits, key=lambda a: (a.delta, a.name))\n        return ScaleOp(best.name, \"SCALE_IN\"", "osm: smallest delta in"),
 ("arca/enforcer/osm_plan.py", "        state[op.aspect] = Aspect(a.name, a.delta, a.scaled + op.change)", "        state[op.aspect] = a", "osm: plan forgets what each aspect added"),
 ("arca/enforcer/osm_plan.py", "        if name and len(per_vdu) == 1:", "        if name:", "osm: aspects of several VDUs taken"),
 ("arca/enforcer/osm_plan.py", "maximum=int(profile.get(\"max-number-of-instances\", 10)))", "maximum=int(profile.get(\"max-number-of-instances\", 11)))", "osm: LCM's default max"),
 ("arca/enforcer/osm_reconciler.py", "            st.live += n if action.params.direction == \"SCALE_OUT\" else -n", "            st.live += 1 if action.params.direction == \"SCALE_OUT\" else -1", "osm: a finished aspect counted as one VDU"),
 ("arca/testbed/osm.py", "                if done + delta + INITIAL_RELAYS > self.max_relays:", "                if self.ns.scale_ops + delta + INITIAL_RELAYS > self.max_relays:", "osm testbed: bound over every aspect, not per aspect"),
 ("arca/testbed/osm.py", "                for _ in range(delta):\n                    ci = ", "                for _ in range(1):\n                    ci = ", "osm testbed: one VDU per operation whatever the aspect"),
]
BUS_MUTANTS = [  # issue 24 item 4: the delivery thread's planner, the FIFO fast path, the text encoder
 ("arca/bus/order.py", "        while heap and heap[0][2].done:", "        while heap and heap[0][2].done and False:", "bus: a done delivery chosen again"),
 ("arca/bus/order.py", "                heapq.heappush(self._heap, (_FIRST, seq, slot))", "                heapq.heappush(self._heap, (0, seq, slot))", "bus: undecodable not first in the planner"),
 ("arca/bus/order.py", "self._folded.pop(cover, ())", "self._folded.get(cover, ())", "bus: a covered delivery superseded twice"),
 ("arca/bus/order.py", "            if key is not None:\n                self._folded", "            if key is None:\n                self._folded", "bus: fold index by the wrong test"),
 ("arca/bus/order.py", "        if self._since_compaction >= self.COMPACT_EVERY:", "        if self._since_compaction >= self.COMPACT_EVERY and False:", "bus: planner never compacted (bounded only by the window)"),
 ("arca/bus/order.py", "            live = [e for e in entries if not e[1].done]", "            live = [e for e in entries if e[1].done]", "bus: compaction keeps the done"),
 ("arca/bus/order.py", "            if slot.message is None:\n                return i\n            if first is None:", "            if first is None:", "bus: FIFO undecodable ahead not first"),
 ("arca/bus/order.py", "        if slot.message is None and not slot.done:\n            return i\n    return first", "        if slot.message is None:\n            return i\n    return first", "bus: FIFO takes a done undecodable"),
 ("arca/messages/codec.py", "_NT_ESCAPES = {c: f\"\\\\u{c:04X}\" for c in (*range(0x20), 0x7F)}", "_NT_ESCAPES = {c: f\"\\\\u{c:04X}\" for c in range(0x20)}", "codec: DEL not escaped"),
 ("arca/messages/codec.py", "0x22: '\\\\\"', ", "", "codec: quote not escaped"),
 ("arca/messages/codec.py", "        if offset is not None and offset.total_seconds() % 60:\n            value = value.astimezone(UTC)\n        text", "        text", "codec: odd offsets kept in text"),
 ("arca/bus/rabbit_consumer.py", "ready = self._settle[0].watermark < self._pending_min()", "ready = True", "settle: a wake per delivery (confirm awaited or not)"),
 ("arca/bus/rabbit_consumer.py", "ready = self._settle[0].watermark < self._pending_min()", "ready = False", "settle: never woken (a delivery that publishes nothing waits for some confirm)"),
]
OVERLAP_MUTANTS = [  # issue 23 items 1, 2, 6: rounding, the unknown far field, the ceiling, the lender, the cold prior
 ("arca/decider/anticipator.py", "    return math.ceil(prediction - tolerance - FIT_SLACK)", "    return math.floor(prediction + 0.5)", "overlap: floor rounded half up (the old rule)"),
 ("arca/decider/anticipator.py", "    return math.ceil(prediction - tolerance - FIT_SLACK)", "    return math.ceil(prediction - tolerance)", "overlap: no slack for libsvm's tolerance"),
 ("arca/decider/anticipator.py", "    return math.ceil(prediction - tolerance - FIT_SLACK)", "    return math.ceil(prediction - FIT_SLACK)", "overlap: epsilon ignored (plain ceiling)"),
 ("arca/decider/loop.py", "    amount = floor_amount(predicted, model.config.epsilon)", "    amount = to_amount(predicted)", "overlap: the floor rounded half up in the loop"),
 ("arca/decider/loop.py", "                                             model.config.epsilon))\n    if is_acceptable", "                                             0.5))\n    if is_acceptable", "overlap: the expected amount rounded half up"),
 ("arca/decider/anticipator.py", "        out[todo] = base  # no severity has a sample there", "        pass  # no severity has a sample there", "overlap: the RBF drift kept past every sample"),
 ("arca/decider/anticipator.py", "key=lambda k: (abs(k - severity), -k)", "key=lambda k: (abs(k - severity), k)", "overlap: the milder of two equally near lends"),
 ("arca/decider/anticipator.py", "if 0 < k != severity", "if k != severity", "overlap: severity 0 lends"),
 ("arca/decider/anticipator.py", "        self._ceiling = max(tops, default=float(self.config.baseline))", "        self._ceiling = min(tops, default=float(self.config.baseline))", "overlap: ceiling of the mildest curve"),
 ("arca/decider/loop.py", "    return total if how == \"sum\" or ceiling is None else min(total, max(top, ceiling))", "    return total", "overlap: capped behaves as sum"),
 ("arca/decider/loop.py", "    return total if how == \"sum\" or ceiling is None else min(total, max(top, ceiling))", "    return total if how == \"sum\" or ceiling is None else min(total, ceiling)", "overlap: one incident above the ceiling cut to it"),
 ("arca/decider/loop.py", "    return total if how == \"sum\" or ceiling is None else min(total, max(top, ceiling))", "    return total if ceiling is None else min(total, max(top, ceiling))", "overlap: sum capped too"),
 ("arca/decider/loop.py", "    expected = combine([default + e for e in extras], default, \"capped\", ceiling) if extras else default", "    expected = combine([default + e for e in extras], default, \"sum\", ceiling) if extras else default", "overlap: shares cut down by a capped overlap"),
 ("arca/decider/loop.py", "model.ceiling() if how == \"capped\" else None)", "None)", "overlap: the floor never capped"),
 ("arca/decider/loop.py", "    ceiling = model.ceiling() if how == \"capped\" else None\n", "    ceiling = None\n", "overlap: the expected amount never capped"),
 ("arca/decider/loop.py", "Lesson(live, needed, tuple(at_load), out, ceiling)", "Lesson(live, needed, tuple(at_load), out)", "overlap: the lesson forgets the ceiling"),
 ("arca/decider/loop.py", "COMBINE: Combine = \"capped\"", "COMBINE: Combine = \"sum\"", "overlap: default combination uncapped"),
 ("arca/app/demo/runner.py", "    cold_prior = prior_file if training is None and name in LEARNING else None", "    cold_prior = prior_file if name in LEARNING else None", "cold: the prior under training too"),
 ("arca/app/demo/runner.py", "    cold_prior = prior_file if training is None and name in LEARNING else None", "    cold_prior = prior_file if training is None else None", "cold: the prior for every strategy"),
 ("arca/app/demo/runner.py", "    cold_prior = prior_file if training is None and name in LEARNING else None", "    cold_prior = None", "cold: the prior never given"),
 ("arca/decider/loop.py", "    if demand is None or len(live) != 1:\n        return antics, (), ()", "    if demand is None or not live:\n        return antics, (), ()", "assess: with several incidents live"),
 ("arca/decider/loop.py", "    if own is None or abs(own - needed) < margin:", "    if own is None:", "assess: no margin"),
 ("arca/decider/loop.py", "    moved = replace(a, assessed=None if best == a.severity else best, peak=0.0, last=None, judged=True,\n", "    moved = replace(a, assessed=None if best == a.severity else best, judged=True,\n", "assess: the old curve's unimodal rule kept"),
 ("arca/decider/loop.py", "        sample = LearnedSample(a.level, round(e_m, 3), amount, learned_at=now, sample_id=sid,", "        sample = LearnedSample(a.severity, round(e_m, 3), amount, learned_at=now, sample_id=sid,", "assess: learned for the reported severity"),
 ("arca/decider/loop.py", "    raws = model.floors([(a.level, seconds(now, a.onset)) for a in antics], policy.lead_time_s)", "    raws = model.floors([(a.severity, seconds(now, a.onset)) for a in antics], policy.lead_time_s)", "assess: the floor of the reported severity"),
 ("arca/decider/loop.py", "            p = model.predict_one(a.level, measured_elapsed(situation, a.onset))", "            p = model.predict_one(a.severity, measured_elapsed(situation, a.onset))", "assess: expected from the reported severity"),
 ("arca/decider/loop.py", "        antics, assessed, judged = assessed_by_load(antics, model, situation, policy, st.last_load_time,\n                                                    records)\n", "        assessed: tuple[str, ...] = ()\n        judged: tuple[SourceRecord, ...] = ()\n", "assess: never called"),
 ("arca/decider/loop.py", "    if not (antics and model.trained and load_round(situation, last_load_time) is not None):\n        return antics, (), ()", "    if not (antics and model.trained):\n        return antics, (), ()", "assess: the same telemetry again"),
]
DETECTOR_MUTANTS = [  # issue 23 item 5: false alarms released at the first round with no rise, source records, calibration
 ("arca/decider/sources.py", "return record.false_alarms > 0 and record.false_alarms >= record.confirmed", "return record.false_alarms > 0 and record.false_alarms > record.confirmed", "detectors: suspect boundary"),
 ("arca/decider/sources.py", "return record.false_alarms > 0 and record.false_alarms >= record.confirmed", "return record.false_alarms >= record.confirmed", "detectors: a new source suspect"),
 ("arca/decider/sources.py", "return SUSPECT_RISE if suspect(record) else CLEAN_RISE", "return CLEAN_RISE", "detectors: the record never asks for more rise"),
 ("arca/decider/sources.py", "raised=record.raised + (1 if first else 0)", "raised=record.raised + 1", "detectors: every move up counts an incident"),
 ("arca/decider/sources.py", "lowered=record.lowered + (1 if first else 0)", "lowered=record.lowered + 1", "detectors: every move down counts an incident"),
 ("arca/decider/sources.py", "up_steps=record.up_steps + after - before", "up_steps=record.up_steps + 1", "detectors: steps up not counted"),
 ("arca/decider/sources.py", "down_steps=record.down_steps + before - after", "down_steps=record.down_steps + 1", "detectors: steps down not counted"),
 ("arca/decider/sources.py", "if record.raised - record.lowered >= CALIBRATE_AFTER:", "if record.raised >= CALIBRATE_AFTER:", "detectors: up calibration ignores the lowered"),
 ("arca/decider/sources.py", "if record.raised - record.lowered >= CALIBRATE_AFTER:", "if record.raised - record.lowered > CALIBRATE_AFTER:", "detectors: up calibration boundary"),
 ("arca/decider/sources.py", "if record.lowered - record.raised >= CALIBRATE_AFTER and not load_rising:", "if record.lowered - record.raised >= CALIBRATE_AFTER:", "detectors: calibrated down while the load rises"),
 ("arca/decider/sources.py", "if record.lowered - record.raised >= CALIBRATE_AFTER and not load_rising:", "if record.lowered >= CALIBRATE_AFTER and not load_rising:", "detectors: down calibration ignores the raised"),
 ("arca/decider/sources.py", "        level = min(max(severity, highest), severity + record.up)", "        level = severity + record.up", "detectors: up calibration beyond the known severities"),
 ("arca/decider/sources.py", "        level = max(1, severity - record.down)", "        level = severity - record.down", "detectors: down calibration below 1"),
 ("arca/decider/sources.py", "return math.floor(self.up_steps / self.raised + 0.5) if self.raised else 0", "return self.up_steps // self.raised if self.raised else 0", "detectors: mean up rounded down"),
 ("arca/decider/sources.py", "return math.floor(self.down_steps / self.lowered + 0.5) if self.lowered else 0", "return self.down_steps // self.lowered if self.lowered else 0", "detectors: mean down rounded down"),
 ("arca/decider/sources.py", "kb.submit(\"DROP SILENT GRAPH $g ; INSERT DATA", "kb.submit(\"INSERT DATA", "detectors: a stored record not replaced"),
 ("arca/decider/sources.py", "        owner = system if system is not None else str(r[\"sys\"])", "        owner = str(r[\"src\"])", "detectors: records filed under the wrong system"),
 ("arca/decider/loop.py", "p >= policy.default_servants + NO_RISE_MARGIN", "p > policy.default_servants + NO_RISE_MARGIN", "detectors: no-rise margin boundary"),
 ("arca/decider/loop.py", "elif (p is not None and not a.confirmed and p >=", "elif (p is not None and p >=", "detectors: a confirmed incident released for no rise"),
 ("arca/decider/loop.py", "              and e_m >= (situation.load_window_s or 0.0) / 2):", "              and e_m >= 0):", "detectors: a window partly before the onset judged"),
 ("arca/decider/loop.py", "              and e_m >= (situation.load_window_s or 0.0) / 2):", "              and e_m > (situation.load_window_s or 0.0) / 2):", "detectors: window boundary"),
 ("arca/decider/loop.py", "            if rise < share * expected_rise:", "            if rise <= share * expected_rise:", "detectors: rise share boundary"),
 ("arca/decider/loop.py", "            rise = float(demand_now or 0.0) - (a.quiet or 0.0)", "            rise = float(demand_now or 0.0)", "detectors: the rise not counted from the quiet level"),
 ("arca/decider/loop.py", "            share = rise_needed(before)", "            share = rise_needed(SourceRecord(a.source))", "detectors: the source's record ignored"),
 ("arca/decider/loop.py", "            share = rise_needed(before)", "            share = rise_needed(record or SourceRecord(a.source))", "detectors: the record of this round asks for the rise"),
 ("arca/decider/loop.py", "                    changed[a.source] = with_confirmed(record)", "                    pass", "detectors: confirmed incidents not counted"),
 ("arca/decider/loop.py", "            if not a.confirmed:\n                a = replace(a, confirmed=True)", "            if True:\n                a = replace(a, confirmed=True)", "detectors: confirmed counted every round"),
 ("arca/decider/loop.py", "            changed[a.source] = with_false_alarm(record)", "            pass", "detectors: false alarms not counted"),
 ("arca/decider/loop.py", "                                       quiet=quiet))", "                                       quiet=None))", "detectors: the quiet level not kept"),
 ("arca/decider/loop.py", "source=(sources or {}).get(ident, \"\"),", "source=\"\",", "detectors: the incident's source not kept"),
 ("arca/decider/loop.py", "        if a.since == now and a.assessed is None and a.source in records:", "        if a.assessed is None and a.source in records:", "detectors: incidents calibrated again every decision"),
 ("arca/decider/loop.py", "    rising = demand is not None and needed_for(demand, policy) > policy.default_servants", "    rising = False", "detectors: calibrated down while the load rises (loop)"),
 ("arca/decider/loop.py", "    highest = max((k for k in known if k > 0), default=0)", "    highest = 99", "detectors: calibration beyond the known severities (loop)"),
 ("arca/decider/loop.py", "        records = {**records, **{r.source: r for r in confirmed.records}}", "        pass", "detectors: the round's records dropped"),
 ("arca/decider/loop.py", "            sources=moved,", "            sources=(),", "detectors: changed records not reported"),
 ("arca/decider/loop.py", "first=not a.judged)", "first=True)", "detectors: every assessment counts an incident"),
 ("arca/decider/service.py", "            if not state.sources:  # what the load taught", "            if False:  # what the load taught", "detectors: stored records not loaded"),
 ("arca/decider/service.py", "            store_record(self.kb, system, record)\n", "            pass\n", "detectors: records not stored"),
 ("arca/decider/loop.py", "    first = window > 0 and window / 2 <= e_m < 1.5 * window", "    first = False", "detectors: no first-round assessment"),
 ("arca/decider/loop.py", "    first = window > 0 and window / 2 <= e_m < 1.5 * window", "    first = window > 0 and window / 2 < e_m < 1.5 * window", "detectors: first round starts later (boundary)"),
 ("arca/decider/loop.py", "    first = window > 0 and window / 2 <= e_m < 1.5 * window", "    first = window > 0 and window / 2 <= e_m <= 1.5 * window", "detectors: first round ends later (boundary)"),
 ("arca/decider/loop.py", "    first = window > 0 and window / 2 <= e_m < 1.5 * window", "    first = window > 0 and e_m < 1.5 * window", "detectors: a window partly before the onset is a first round"),
 ("arca/decider/loop.py", "    if only_higher and best < level:", "    if False:", "detectors: the first round lowers"),
 ("arca/decider/loop.py", "FIRST_ROUND_ASSESS_MARGIN if first else ASSESS_MARGIN, only_higher=first)", "ASSESS_MARGIN, only_higher=first)", "detectors: the first round with the wide margin"),
 ("arca/decider/loop.py", "    needed: float = demand / policy.high_threshold if first else", "    needed: float = float(needed_for(demand, policy)) if first else", "detectors: the first round's need rounded"),
]
DEMOFAST_MUTANTS = [  # issue 24 item 6: the demo's job order, the enforcer's reads shared within a pass
 ("arca/app/demo/runner.py", "    return sorted(work, key=lambda name: (-work[name], rank[name]))", "    return sorted(work, key=lambda name: (work[name], rank[name]))", "demofast: shortest first"),
 ("arca/app/demo/runner.py", "    return sorted(work, key=lambda name: (-work[name], rank[name]))", "    return sorted(work, key=lambda name: rank[name])", "demofast: the given order"),
 ("arca/app/demo/runner.py", "    return sorted(work, key=lambda name: (-work[name], rank[name]))", "    return sorted(work, key=lambda name: (-work[name], name))", "demofast: ties by name"),
 ("arca/app/demo/runner.py", "        work[task.strategy] = work.get(task.strategy, 0.0) + task.work_s", "        work[task.strategy] = task.work_s", "demofast: training not counted"),
 ("arca/enforcer/drivers/openstack.py", "        if data is None:\n            data = self._reads[key]", "        if True:\n            data = self._reads[key]", "demofast: reads never shared"),
 ("arca/enforcer/drivers/openstack.py", "            if self._reads is not None:\n                self._reads.clear()", "            pass", "demofast: a change forgets nothing"),
 ("arca/enforcer/drivers/openstack.py", "        if self._reads is not None:\n            yield\n            return\n", "", "demofast: a nested pass ends the outer one"),
 ("arca/enforcer/drivers/openstack.py", "        finally:\n            self._reads = None", "        finally:\n            pass", "demofast: answers kept after the pass"),
 ("arca/enforcer/drivers/openstack.py", "self._write(f\"add member to {pid}\"", "_call(f\"add member to {pid}\"", "demofast: adding a member forgets nothing"),
 ("arca/enforcer/drivers/openstack.py", "self._write(f\"delete member of {pid}\"", "_call(f\"delete member of {pid}\"", "demofast: removing a member forgets nothing"),
 ("arca/enforcer/reconciler.py", "        with one_pass(self.driver):\n            return self._reconcile(system, now)", "        with one_pass(None):\n            return self._reconcile(system, now)", "demofast: a reconcile is no pass"),
]
INGEST_MUTANTS = [  # issue 24 item 3: the YANG shortcut, the string check, the event route, the HTTP workers
 ("arca/collector/yang_model.py", "        return type(value) is int and 0 <= value <= 255", "        return type(value) is int and 0 <= value <= 256", "shortcut: uint8 up to 256"),
 ("arca/collector/yang_model.py", "        return type(value) is int and 0 <= value <= 255", "        return isinstance(value, int) and 0 <= value <= 255", "shortcut: a boolean as uint8"),
 ("arca/collector/yang_model.py", "        return _INT64.fullmatch(value) is not None", "        return _INT64.match(value) is not None", "shortcut: int64 prefix match"),
 ("arca/collector/yang_model.py", '_INT64 = re.compile(r"-?[0-9]{1,18}")', '_INT64 = re.compile(r"-?[0-9]{1,19}")', "shortcut: 19-digit int64"),
 ("arca/collector/yang_model.py", "        return _DATE_AND_TIME.fullmatch(value) is not None", "        return _DATE_AND_TIME.match(value) is not None", "shortcut: date-and-time prefix match"),
 ("arca/collector/yang_model.py", '[0-9]{2}T[0-9]{2}', '[0-9]{2}[Tt][0-9]{2}', "shortcut: lowercase t"),
 ("arca/collector/yang_model.py", "            base64.b64decode(value, validate=True)", "            base64.b64decode(value)", "shortcut: base64 not validated"),
 ("arca/collector/yang_model.py", "        kind = NOTIFICATION_LEAVES.get(name)", "        kind = NOTIFICATION_LEAVES.get(name, \"string\")", "shortcut: unknown notification member as a string"),
 ("arca/collector/yang_model.py", ' or entry["plid"] in keys:', ":", "shortcut: duplicate plids"),
 ("arca/collector/yang_model.py", 'if type(entry) is not dict or type(entry.get("plid")) is not str or', "if type(entry) is not dict or", "shortcut: plid not required"),
 ("arca/collector/yang_model.py", "if leaves is None or type(entries) is not list or not entries:", "if leaves is None or type(entries) is not list:", "shortcut: empty list"),
 ("arca/collector/yang_model.py", "    if type(payloads) is not dict or not payloads:", "    if type(payloads) is not dict:", "shortcut: no payload list"),
 ("arca/collector/yang_model.py", "    if type(events) is not dict or len(events) != 1:", "    if type(events) is not dict:", "shortcut: external-events beside"),
 ("arca/collector/yang_model.py", "    if not known_valid_notification(content):", "    if known_valid_notification(content):", "shortcut: notification check inverted"),
 ("arca/collector/yang_model.py", "    if not known_valid_data(document):", "    if False:", "shortcut: payload never validated"),
 ("arca/collector/events.py", '    return "\\\\" not in text and _SURROGATE', "    return _SURROGATE", "strings: escapes trusted"),
 ("arca/collector/events.py", "    return \"\\\\\" not in text and _SURROGATE.search(text) is None and _NOT_YANG.search(text) is None", "    return \"\\\\\" not in text and _SURROGATE.search(text) is None", "strings: raw controls trusted"),
 ("arca/collector/events.py", "        if not checked:\n            _check_strings(doc, \"\")", "        if False:\n            _check_strings(doc, \"\")", "strings: a parsed document never checked"),
 ("arca/collector/ingest.py", "checked=raw or checked)", "checked=True)", "strings: any document trusted by the ingestor"),
 ("arca/collector/http.py", 'if environ.get("PATH_INFO") != EVENT_PATH or environ.get("REQUEST_METHOD") != "POST":', 'if environ.get("PATH_INFO") != EVENT_PATH:', "route: every method on the event path"),
 ("arca/collector/http.py", "            if mimetype not in JSON_TYPES:", "            if mimetype not in JSON_TYPES | XML_TYPES:", "route: XML accepted as the event's media type"),
 ("arca/collector/http.py", "            if length is not None and length > self.max_bytes:", "            if length is not None and length > self.max_bytes + 1:", "route: declared length one byte over"),
 ("arca/collector/http.py", '            bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None', '            bearer = token.strip() if scheme == "Bearer" and token.strip() else None', "route: bearer scheme case-sensitive"),
 ("arca/collector/http.py", '            extra.append(("WWW-Authenticate", \'Bearer realm="arca-collector"\'))', "            pass", "route: 401 without WWW-Authenticate"),
 ("arca/collector/http.py", '            extra.append(("Retry-After", str(exc.retry_after_s)))', "            pass", "route: 429 without Retry-After"),
 ("arca/collector/http.py", "            ingestor.auth.authorise(principal, source_of(doc), SOURCE_PATH)\n            outcome", "            outcome", "route: another source's token accepted"),
 ("arca/collector/workers.py", "    if any(k.upper() == METRICS_PORT_ENV for k in base):", "    if False:", "workers: a fixed metrics port inherited"),
 ("arca/collector/workers.py", "    return expected is not None and current != expected", "    return current != expected", "workers: a non-worker thinks itself orphaned"),
 ("arca/collector/workers.py", "    env = {k: v for k, v in base.items() if k.upper() != WORKER_ENV}", "    env = dict(base)", "workers: an inherited worker number kept"),
 ("arca/collector/workers.py", "        for index in range(1, self.count):", "        for index in range(2, self.count):", "workers: one worker fewer"),
 ("arca/collector/service.py", "            self.workers.stop()\n", "            pass\n", "workers: not stopped with the collector"),
 ("arca/collector/service.py", "                                         reuse_port=shared)", "                                         reuse_port=False)", "workers: no SO_REUSEPORT"),
 ("arca/collector/service.py", "            subscribe_own(self.queue, [], self.patterns, self.deliver)", "            super().attach()", "workers: share the collector's policy queue"),
 ("arca/collector/workers.py", "            if now >= due:", "            if now > due:", "workers: respawn one tick late"),
 ("arca/collector/workers.py", "            due = self._respawn_at.setdefault(index, now + RESPAWN_DELAY_S)", "            due = now", "workers: respawn at once"),
 ("arca/collector/workers.py", "                proc.kill()\n", "                pass\n", "workers: a stuck worker never killed"),
 # issue 24 item 3, second pass (ingest31): the cost cuts and the CPU pinning
 ("arca/collector/events.py", '    if text.count("{") + text.count("[") > MAX_JSON_DEPTH:', '    if text.count("{") + text.count("[") > MAX_JSON_DEPTH + 1:', "depth: the scan skipped one bracket too many"),
 ("arca/collector/events.py", '    if text.count("{") + text.count("[") > MAX_JSON_DEPTH:', '    if text.count("{") > MAX_JSON_DEPTH:', "depth: arrays not counted"),
 ("arca/collector/routing.py", "        key = (source, domain)", "        key = (source, None)", "router: memo keyed by source only"),
 ("arca/collector/routing.py", "            if len(self._memo) >= MEMO_MAX:", "            if False:", "router: memo unbounded"),
 ("arca/collector/routing.py", "        return list(systems)", "        return systems  # type: ignore[return-value]", "router: the memo's own list handed out"),
 ("arca/messages/ids.py", "    digest[6] = (digest[6] & 0x0F) | 0x50", "    digest[6] = (digest[6] & 0x0F) | 0x40", "ids: version 4 bits"),
 ("arca/messages/ids.py", "    digest[8] = (digest[8] & 0x3F) | 0x80\n", "", "ids: variant bits not set"),
 ("arca/collector/workers.py", "    cpus = sorted(allowed)", "    cpus = list(allowed)", "pinning: CPUs in the given order"),
 ("arca/collector/workers.py", "    return cpus[(offset + index) % len(cpus)]", "    return cpus[index % len(cpus)]", "pinning: every collector starts at the first CPU"),
 ("arca/collector/workers.py", "    for tid in os.listdir(tasks) if os.path.isdir(tasks) else []:", "    for tid in []:", "pinning: only the calling thread"),
 ("arca/collector/workers.py", "    if cpus:\n        env[CPUS_ENV]", "    if False:\n        env[CPUS_ENV]", "pinning: workers not told the CPUs"),
 ("arca/collector/service.py", "        allowed = parse_cpus(os.environ.get(CPUS_ENV)) if self.worker is not None else []", "        allowed: list[int] = []", "pinning: a worker picks among its inherited CPU"),
 ("arca/bus/rabbit_connection.py", "        if (channel is not None and type(getattr(frame_value, \"method\", None)) in _CONFIRMS", "        if (False and type(getattr(frame_value, \"method\", None)) in _CONFIRMS", "bus: confirms through pika's registry again"),
 ("arca/bus/rabbit_publisher.py", "        corked = cork is not None and uncork is not None and len(batch) > 1", "        corked = False", "bus: a batch written message by message"),
 ("arca/bus/rabbit_core.py", "        self._lock = threading.Lock()\n        self._lock.acquire()", "        self._lock = threading.Lock()", "bus: a waiter that never waits"),
 ("arca/bus/rabbit_publisher.py", "            batch = list(self._outbox)\n", "            batch = list(self._outbox)\n            self._outbox.clear()\n", "bus: a batch out of the outbox before it is sent (flush counts it confirmed)"),
]
PEAK_MUTANTS = [  # issue 23 items 1 and 5 (overlap23b): the window's peak, learned at a burst's top; a released boot cancelled
 ("arca/collector/haproxy.py", "        if self.peak is None or rate > self.peak[0]:", "        if self.peak is None or rate < self.peak[0]:", "peak: the lowest sub-interval kept"),
 ("arca/collector/haproxy.py", "last.at + (cur.at - last.at) / 2", "cur.at", "peak: stamped at the read, not the sub-interval's middle"),
 ("arca/collector/haproxy.py", "        publish = self.peak_interval_s is None or self.next_publish is None or now >= self.next_publish", "        publish = True", "peak: every read published"),
 ("arca/collector/haproxy.py", "        peak, self.peak = self.peak, None  # each window's peak is its own", "        peak = self.peak", "peak: a window's peak carried into the next"),
 ("arca/analyzer/situation.py", "        if not rates or set(peaks) != set(rates) or offered <= 0:", "        if not rates or not peaks or offered <= 0:", "peak: a balancer without a peak ignored"),
 ("arca/analyzer/situation.py", "        return max(demand, demand * top / offered), at", "        return demand * top / offered, at", "peak: below the mean allowed"),
 ("arca/analyzer/situation.py", "if m == \"request_rate_peak\" and start < t <= self.newest_load}", "if m == \"request_rate_peak\"}", "peak: an older window's peak taken"),
 ("arca/decider/anticipator.py", "            near = np.abs(ela - at) <= PEAK_REACH_S", "            near = np.abs(ela - at) < 0.5", "peak: a point, not a reach"),
 ("arca/decider/anticipator.py", "        learned = [s for s in self.samples if s.source not in (\"prior\", \"peak\")]", "        learned = [s for s in self.samples if s.source != \"prior\"]", "peak: peak samples fitted"),
 ("arca/decider/anticipator.py", "            predicted = self.predict_floor(severity, grid.ravel())", "            predicted = self.predict(severity, grid.ravel())", "peak: the floors ignore the peak samples"),
 ("arca/decider/anticipator.py", "            out = self.predict_floor(severity, grid)\n            top =", "            out = self.predict(severity, grid)\n            top =", "peak: the top ignores the peak samples"),
 ("arca/decider/anticipator.py", "        return (self.severity, math.floor(self.elapsed_s), self.source == \"peak\")", "        return (self.severity, math.floor(self.elapsed_s), False)", "peak: decimated with the learned samples"),
 ("arca/decider/loop.py", "    tops = [model.top(a.level) or float(policy.default_servants) for a in here]", "    tops = [model.predict_one(a.level, seconds(at, a.onset)) or float(policy.default_servants) for a in here]", "peak: learned wherever the curve is short, not only above its top"),
 ("arca/decider/loop.py", "    if needed <= expected:\n        return None\n    predicted", "    if needed < expected:\n        return None\n    predicted", "peak: a peak at the top learned again"),
 ("arca/decider/loop.py", "    here = tuple(a for a in live if seconds(at, a.onset) >= 0)", "    here = tuple(live)", "peak: incidents after the peak share it"),
 ("arca/decider/loop.py", "                               source=\"learned\" if lesson.at is None else \"peak\")", "                               source=\"learned\")", "peak: learned as a plain sample"),
 ("arca/decider/loop.py", "        e_m = measured_elapsed(situation, a.onset) if lesson.at is None else seconds(lesson.at, a.onset)", "        e_m = measured_elapsed(situation, a.onset)", "peak: learned at the window's middle"),
 ("arca/enforcer/planning.py", "            if len(booting_surplus) < count - target:\n                waiting", "            if True:\n                waiting", "enforcer: waiting though every surplus boot is cancelled"),
 ("arca/enforcer/planning.py", "            booting_surplus = cancelled_boots(live, in_flight, bounds, count - target)", "            booting_surplus = []", "enforcer: a released boot runs to its end (the old rule)"),
 ("arca/enforcer/planning.py", "    booting = [s for s in live if s.status == \"building\" and s.name in in_flight.creating\n               and s.name not in bounds.protected]", "    booting = [s for s in live if s.status == \"building\" and s.name not in bounds.protected]", "enforcer: a building server not ours to cancel removed"),
 ("arca/enforcer/planning.py", "               and s.name not in bounds.protected]\n    return sorted", "               ]\n    return sorted", "enforcer: a protected boot cancelled"),
 ("arca/enforcer/planning.py", "    return sorted(booting, key=lambda s: _surplus_order(s, \"youngest-first\"))[:max(0, surplus)]", "    return sorted(booting, key=lambda s: _surplus_order(s, \"oldest-first\"))[:max(0, surplus)]", "enforcer: the oldest boot cancelled first"),
 ("arca/enforcer/reconciler.py", "                self._cancel_boot(st, step, now)\n", "                pass\n", "enforcer: the cancelled boot's creation left running"),
 ("arca/enforcer/actions.py", "            self._to(ActionState.SKIPPED, now, f\"cancelled: {why}\")", "            self._to(ActionState.FAILED, now, f\"cancelled: {why}\")", "enforcer: a cancelled creation reported failed"),
]
CAPACITY_MUTANTS = [  # issue 24 item 7: ticks never pile up, a tick is one driver pass, the listing indexed once
 ("arca/service.py", "        if self._busy.is_set():\n", "        if False:\n", "capacity: the gate never closes"),
 ("arca/service.py", "        finally:\n            self._busy.clear()", "        finally:\n            pass", "capacity: the gate never reopens"),
 ("arca/service.py", "            metrics.TICKS_SKIPPED.labels(self.service.name).inc()\n", "", "capacity: skipped ticks not counted"),
 ("arca/enforcer/reconciler.py", "        with one_pass(self.driver):\n            for system in sorted(self.systems if systems is None else systems):", "        if True:\n            for system in sorted(self.systems if systems is None else systems):", "capacity: a tick's systems each their own pass"),
 ("arca/enforcer/reconciler.py", "sorted(self.systems if systems is None else systems)", "sorted(self.systems)", "capacity: the tick ignores the systems it is given"),
 ("arca/enforcer/service.py", "            self.reconciler.tick(now, self.owned)", "            self.reconciler.tick(now, ())", "capacity: a sharded tick reconciles nothing"),
 ("arca/enforcer/drivers/openstack.py", "        if self._owners is not None and self._owners[0] is data:", "        if False:", "capacity: the listing indexed anew per system"),
 ("arca/enforcer/drivers/openstack.py", "            if isinstance(owner, str) and self.owned(server, owner):", "            if isinstance(owner, str):", "capacity: a server with the metadata but not the tag owned"),
 ("arca/app/runtime.py", "                ticks.offer(deps.bus.call_soon_threadsafe)", "                deps.bus.call_soon_threadsafe(lambda: service.run_tick(deps.clock.now()))", "capacity: the runtime posts ticks around the gate"),
]
REFIT_MUTANTS = [  # issue 24 item 4: refits off the delivery thread, a prediction waits for the fit under way
 ("arca/decider/anticipator.py", "        with self._lock:\n            if self._fitted:", "        if True:\n            if self._fitted:", "refits: no lock around a fit"),
 ("arca/decider/anticipator.py", "                self._fitted = False  # a failed fit", "                pass  # a failed fit", "refits: a failed fit leaves the model fitted with nothing"),
 ("arca/decider/fitting.py", "            self._pending.pop(key, None)  # the newest last", "            pass  # the newest last", "refits: a newer model does not move behind the others"),
 ("arca/decider/fitting.py", "            self._pending.pop(key, None)  # the newest last: refits run in the order they were asked\n            self._pending[key] = model\n", "            self._pending.setdefault(key, model)\n", "refits: the older model of a system kept"),
 ("arca/decider/fitting.py", "                model.refit()\n", "                pass\n", "refits: nothing refitted"),
 ("arca/decider/fitting.py", "                    self._running -= 1\n", "                    pass\n", "refits: never idle again"),
 ("arca/decider/service.py", "            if self.refits is not None:  # on the refit thread", "            if False:  # on the refit thread", "refits: live refits back on the delivery thread"),
 ("arca/decider/fitting.py", "        while os.getppid() == parent:", "        while True:", "fitter: the helper outlives a killed decider"),
]
HOLD_MUTANTS = [  # issue 23 item 7: servants held between incidents when new ones come after the burst (osm31)
 ("arca/decider/hold.py", "if policy.warm or policy.discard_objective is None or model is None", "if policy.discard_objective is None or model is None", "hold: held with a warm pool too"),
 ("arca/decider/hold.py", "if policy.warm or policy.discard_objective is None or model is None", "if policy.warm or model is None", "hold: held without an objective"),
 ("arca/decider/hold.py", "shortfall(c, n, default, high, -notice_s, lead_s, step_s, notice_s)", "shortfall(c, n, default, high, 0.0, lead_s, step_s, notice_s)", "hold: held servants counted only from the notification"),
 ("arca/decider/hold.py", "volume = max(burst, per_incident or 0.0)", "volume = burst", "hold: the quiet time per incident ignored"),
 ("arca/decider/hold.py", "        if expected <= objective:\n            return Hold(n, expected, True)", "        if expected < objective:\n            return Hold(n, expected, True)", "hold: objective boundary"),
 ("arca/decider/hold.py", "(float(max(shorts)) if expect == \"worst\" else float(np.mean(shorts)))", "(float(max(shorts)) if expect != \"worst\" else float(np.mean(shorts)))", "hold: mean and worst swapped"),
 ("arca/decider/hold.py", "most=max(0, policy.max_servants - policy.default_servants)", "most=policy.max_servants", "hold: beyond the policy's maximum"),
 ("arca/decider/hold.py", "return max(arrival, min(window, float(kept)))", "return max(arrival, window)", "in-time floor: the whole burst started"),
 ("arca/decider/hold.py", "return max(arrival, min(window, float(kept)))", "return min(window, float(kept))", "in-time floor: nothing started for the arrival"),
 ("arca/decider/hold.py", "return policy.clamp(policy.default_servants + self.servants)", "return policy.default_servants + self.servants", "hold: level not clamped"),
 ("arca/decider/loop.py", "kept = max(hold.level(policy), current) if hold is not None else None", "kept = None", "in-time floor not applied"),
 ("arca/decider/loop.py", "kept = max(hold.level(policy), current) if hold is not None else None", "kept = hold.level(policy) if hold is not None else None", "in-time floor ignores the amount decided before"),
 ("arca/decider/loop.py", "seconds(now, a.onset) + policy.lead_time_s + ACTION_S)", "seconds(now, a.onset))", "in-time floor: arrival measured now"),
 ("arca/decider/loop.py", "return (level, \"held\") if current < level else (current, rule)", "return (current, rule)", "hold not applied to the amount"),
 ("arca/decider/loop.py", "return (level, \"held\") if current < level else (current, rule)", "return (level, \"held\")", "hold replaces a larger amount"),
 ("arca/app/demo/harness.py", "objective = OSM_OBJECTIVE if osm and name == \"arca\" else {}", "objective = OSM_OBJECTIVE if name == \"arca\" else {}", "demo: arca states the OSM objective through OpenStack"),
]
LINKED_MUTANTS = [  # issue 24 item 2: a situation links the incident nodes its system's previous one stored
 ("arca/analyzer/stored.py", "if last is None or now - last[1] >= self.max_age / 2:", "if last is None:", "linked: previous relied on whatever its age"),
 ("arca/analyzer/stored.py", "if last is None or now - last[1] >= self.max_age / 2:", "if last is None or now - last[1] > self.max_age / 2:", "linked: half-age boundary"),
 ("arca/analyzer/stored.py", "if last is None or now - last[1] >= self.max_age / 2:", "if last is None or now - last[1] >= self.max_age:", "linked: the whole max age relied on"),
 ("arca/analyzer/stored.py", "        return last[0] & nodes", "        return last[0]", "linked: nodes the new situation does not carry"),
 ("arca/analyzer/stored.py", "        return last[0] & nodes", "        return nodes", "linked: new incidents never described"),
 ("arca/analyzer/stored.py", "        self._last.clear()", "        pass", "linked: nothing forgotten on a take-over"),
 ("arca/analyzer/service.py", "        self.stored.forget()\n", "", "linked: take-over does not forget"),
 ("arca/analyzer/service.py", "        self.stored.submitted(situation.system, nodes, situation.event_time)\n", "", "linked: nothing remembered"),
 ("arca/kb/messages.py", "if line[:line.find(\" \")] not in wanted)", "if line[:line.find(\" \")] in wanted)", "without_descriptions inverted"),
 ("arca/kb/messages.py", "    if stored:\n        text = without_descriptions(text, stored)\n", "", "store_message ignores stored"),
]
BACKLOG_MUTANTS = [  # issue 24 item 2, stop 33: the analyzer's backlog check and SPARQL string escapes
 # stop 34: a flood for one system still gives it a situation every coalesce_max_events
 ("arca/analyzer/service.py", "            capped = left + 1 >= self.settings.analyzer.coalesce_max_events", "            capped = left >= self.settings.analyzer.coalesce_max_events", "cap: one look too many"),
 ("arca/analyzer/service.py", "            capped = left + 1 >= self.settings.analyzer.coalesce_max_events", "            capped = False", "cap: never"),
 ("arca/analyzer/service.py", "            if not (batch_end or capped) and first_waiting(self._taken) is not None:", "            if not batch_end and first_waiting(self._taken) is not None:", "cap: the batch's end still waited for"),
 ("arca/analyzer/service.py", "            self.deferred.pop(system, None)\n", "", "cap: the count never reset"),
 ("arca/analyzer/service.py", "                self.deferred[system] = left + 1\n", "                self.deferred[system] = left\n", "cap: looks not counted"),
 ("arca/analyzer/service.py", "*sorted(self.left_to.pop(announced.message_id, ()))", "*sorted(self.left_to.get(announced.message_id, ()))", "backlog: left_to entry kept"),
 ("arca/analyzer/service.py", "self.publish_events([*systems, *sorted(self.left_to.pop(announced.message_id, ()))])", "self.publish_events([*systems])", "backlog: systems left to an event never looked at again"),
 ("arca/analyzer/service.py", "            self.left_to.clear()\n            systems = list(self.unpublished)", "            systems = []", "backlog: ticks look at nothing"),
 ("arca/analyzer/service.py", "        return isinstance(message, ExternalEvent) and self._concerns(message, system) \\", "        return isinstance(message, ExternalEvent) and message.system == system \\", "backlog: unnamed events ignored"),
 ("arca/analyzer/service.py", "        return isinstance(message, ExternalEvent) and self._concerns(message, system) \\", "        return self._concerns(message, system) \\", "backlog: any message defers"),
 ("arca/analyzer/service.py", "        return trust is None or event.cancelled or over_limit(", "        return True or over_limit(", "backlog: left to events the limit refuses"),
 ("arca/analyzer/service.py", "        return trust is None or event.cancelled or over_limit(", "        return trust is None or over_limit(", "backlog: a cancellation counted against the limit"),
 ("arca/analyzer/service.py", "            if not (batch_end or capped) and first_waiting(self._taken) is not None:", "            if False:", "batch end: never deferred"),
 ("arca/analyzer/service.py", "            if not (batch_end or capped) and first_waiting(self._taken) is not None:", "            if not capped and first_waiting(self._taken) is not None:", "batch end: deferred again at the batch's end"),
 ("arca/analyzer/service.py", "        return isinstance(message, ExternalEvent) and self._within_limit(message)", "        return isinstance(message, ExternalEvent)", "batch end: refused events make a batch"),
 ("arca/analyzer/service.py", "        self.at_batch_end.clear()\n", "", "batch end: systems kept"),
 ("arca/bus/order.py", "            if i != index and not s.done and s.message is not None)", "            if not s.done and s.message is not None)", "waiting: the running delivery counts"),
 ("arca/bus/order.py", "            if i != index and not s.done and s.message is not None)", "            if i != index and s.message is not None)", "waiting: handled deliveries count"),
 ("arca/bus/rabbit_consumer.py", "                    with handling(_Slots(window), -1):  # waiting(): what arrived after the call", "                    if True:", "calls: nothing waiting seen by a tick"),
 ("arca/analyzer/service.py", "            if system in self.unpublished:  # left to", "            if False:  # left to", "backlog: telemetry round published while an event waits"),
 ("arca/decider/service.py", "            if system in newer:\n                continue\n", "", "decider tick: waiting situations ignored"),
 ("arca/kb/terms.py", "        if _SURROGATE.search(text):\n            raise TermError(\"lone surrogate in string\")\n", "", "escape: surrogates passed"),
 ("arca/kb/terms.py", ".replace('\"', '\\\\\"')", "", "escape: double quote raw"),
 ("arca/kb/terms.py", "text.replace(\"\\\\\", \"\\\\\\\\\")", "text", "escape: backslash raw"),
 ("arca/kb/terms.py", ".replace(\"\\n\", \"\\\\n\")", "", "escape: newline raw"),
 ("arca/kb/terms.py", ".replace(\"\\t\", \"\\\\t\")", "", "escape: tab raw"),
 ("arca/kb/terms.py", "_ODD = re.compile(\"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f", "_ODD = re.compile(\"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f", "escape: DEL raw"),
 ("arca/kb/terms.py", "_ODD = re.compile(\"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ud800-\\udfff]\")", "_ODD = re.compile(\"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]\")", "escape: surrogates not looked for"),
]
FIRSTPEAK_MUTANTS = [
 ("arca/decider/loop.py", "    found, shown, e_at = _by_peak(situation, policy, model, a) if first else (None, \"\", e_m)", "    found, shown, e_at = None, \"\", e_m", "peak: never read"),
 ("arca/decider/loop.py", "    found, shown, e_at = _by_peak(situation, policy, model, a) if first else (None, \"\", e_m)", "    found, shown, e_at = _by_peak(situation, policy, model, a)", "peak: read at later rounds too"),
 ("arca/decider/loop.py", "    guess = False  # a first-round raise on the mean", "    guess = first  # a first-round raise on the mean", "peak: a peak raise taken for a guess"),
 ("arca/decider/loop.py", "    if e_p <= 0:\n        return None, \"\", 0.0", "    if False:\n        return None, \"\", 0.0", "peak: a peak before the onset read"),
 ("arca/decider/loop.py", "    if e_p <= 0:\n        return None, \"\", 0.0", "    if e_p < 0:\n        return None, \"\", 0.0", "peak: a peak at the onset read"),
 ("arca/decider/loop.py", "    needed = peak / policy.high_threshold\n    found = _nearer_severity", "    needed = peak\n    found = _nearer_severity", "peak: the need without the threshold"),
 ("arca/decider/loop.py", "    found = _nearer_severity(model, a.level, e_p, needed, PEAK_MARGIN)", "    found = _nearer_severity(model, a.level, e_p, needed, 0.0)", "peak: no margin"),
 ("arca/decider/loop.py", "    found = _nearer_severity(model, a.level, e_p, needed, PEAK_MARGIN)", "    found = _nearer_severity(model, a.level, e_p, needed, PEAK_MARGIN, only_higher=True)", "peak: only raises"),
 ("arca/decider/loop.py", "    if found is None:\n        guess = first\n", "    if True:\n        guess = first\n", "peak: the mean overrides the peak"),
 ("arca/decider/loop.py", "    e_p = seconds(at, a.onset)", "    e_p = measured_elapsed(situation, a.onset)", "peak: judged at the window's middle"),
] + [m for m in [*DETECTOR_MUTANTS, *OVERLAP_MUTANTS, *OBJECTIVE_MUTANTS] if m[3] in {
    "early: a first-round raise not remembered", "early: a later round's move taken for a guess",
    "assess: no margin", "detectors: the first round lowers", "detectors: the first round with the wide margin"}]
"""Stop 34: the first round's peak, and the assessment mutants it re-pointed."""

SETS = {"firstpeak": FIRSTPEAK_MUTANTS, "backlog": BACKLOG_MUTANTS, "linked": LINKED_MUTANTS, "peak": PEAK_MUTANTS, "ingest": INGEST_MUTANTS, "overlap": OVERLAP_MUTANTS, "detectors": DETECTOR_MUTANTS,
        "demofast": DEMOFAST_MUTANTS, "store": STORE_MUTANTS, "warm": WARM_MUTANTS, "objective": OBJECTIVE_MUTANTS,
        "osm": OSM_MUTANTS, "bus": BUS_MUTANTS, "capacity": CAPACITY_MUTANTS, "hold": HOLD_MUTANTS,
        "refits": REFIT_MUTANTS}
"""``MUTANTS_SET`` name -> its mutants (unset: the default table; ``phases``: the loop's and the incident rules')."""
_chosen = os.environ.get("MUTANTS_SET", "")
if _chosen == "phases":
    MUTANTS = [m for m in MUTANTS + WARM_MUTANTS if m[0] in ("arca/decider/loop.py", "arca/incidents.py")]
elif _chosen in SETS:
    MUTANTS = SETS[_chosen]
elif _chosen:
    raise SystemExit(f"MUTANTS_SET={_chosen!r}: not a set of mutants (one of {', '.join(sorted([*SETS, 'phases']))})")

ONLY = set(os.environ.get("ONLY", "").split("|")) - {""}
if ONLY:
    MUTANTS = [m for m in MUTANTS if m[3] in ONLY]

TIMEOUT_S = float(os.environ.get("MUTATION_TIMEOUT_S", "600"))
"""Seconds one test run may take; a mutant whose run takes longer is an error, not a kill."""


def run_tests(root: str, tests: list[str], timeout_s: float = TIMEOUT_S) -> str:
    """Run ``tests`` in ``root``: "passed", "failed" (a test failed: pytest exit code 1), or
    "error: ..." (a collection error, an import error, no test run, a timeout: pytest could not
    judge the code, so a mutant is not killed by it)."""
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                           cwd=root, env={**os.environ, "PYTHONPATH": root}, capture_output=True, text=True,
                           timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"error: timeout after {timeout_s:g}s"
    if r.returncode == 0:
        return "passed"
    if r.returncode == 1:
        return "failed"
    last = (r.stdout.strip().splitlines() or ["?"])[-1]
    return f"error: pytest exit code {r.returncode} ({last[:160]})"


def check(root: str, tests: list[str], mutants: list[tuple[str, str, str, str]],
          label: str = "mutants", timeout_s: float = TIMEOUT_S) -> dict[str, list[tuple[str, str]]]:
    """Apply each mutant alone to the copy at ``root`` and run ``tests``; the mutants (file, what)
    sorted into killed, survived, error (the run could not judge it) and skipped (its snippet is not
    exactly once in the file: not applied, not in the total)."""
    baseline = run_tests(root, tests, timeout_s)
    assert baseline == "passed", f"tests do not pass without mutants: {baseline}"
    out: dict[str, list[tuple[str, str]]] = {"killed": [], "survived": [], "error": [], "skipped": []}
    for f, old, new, what in mutants:
        p = Path(root) / f
        src = p.read_text()
        n = src.count(old)
        if n != 1:
            out["skipped"].append((f, what))
            print(f"SKIPPED ({n} matches): {f}: {what}", flush=True)
            continue
        p.write_text(src.replace(old, new))
        try:
            outcome = run_tests(root, tests, timeout_s)
        finally:
            p.write_text(src)
        status = {"failed": "killed", "passed": "survived"}.get(outcome, "error")
        out[status].append((f, what))
        print(f"{status.upper() if status != 'killed' else status}: {f}: {what}"
              + (f" [{outcome}]" if status == "error" else ""), flush=True)
    applied = len(out["killed"]) + len(out["survived"]) + len(out["error"])
    print(f"{label}: {applied} mutants applied: {len(out['killed'])} killed, {len(out['survived'])} survived, "
          f"{len(out['error'])} errors; {len(out['skipped'])} skipped (snippet not found)", flush=True)
    return out


def main() -> None:
    root, label = sys.argv[1], sys.argv[2]
    result = check(root, sys.argv[3:], MUTANTS, label)
    print(json.dumps({k: result[k] for k in ("survived", "error", "skipped")}, indent=1))


if __name__ == "__main__":
    main()
