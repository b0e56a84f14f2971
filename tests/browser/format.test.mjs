// Unit tests of the console's pure rules (console/js/format.js) on Node's test runner; run by
// tests/api/console/browser.rs (`node --test`).

import assert from "node:assert/strict";
import { test } from "node:test";
import { ageInDays, describeAge, describeSeconds, isRotationCandidate, relativeTime } from "../../console/js/format.js";

const NOW = Date.parse("2026-12-03T12:00:00Z");
const daysAgo = (n) => new Date(NOW - n * 86_400_000).toISOString();

test("keys older than 90 days are rotation candidates, 90 days exactly is not", () => {
  assert.equal(isRotationCandidate(daysAgo(91), NOW), true);
  assert.equal(isRotationCandidate(daysAgo(90), NOW), false);
  assert.equal(isRotationCandidate(daysAgo(0), NOW), false);
});

test("ages are whole days, never negative, and read as words", () => {
  assert.equal(ageInDays(daysAgo(12.7), NOW), 12);
  assert.equal(ageInDays(new Date(NOW + 3_600_000).toISOString(), NOW), 0);
  assert.equal(ageInDays("not a time", NOW), 0);
  assert.equal(describeAge(0), "today");
  assert.equal(describeAge(1), "1 day");
  assert.equal(describeAge(400), "400 days");
});

test("token lifetimes read as the product says them", () => {
  assert.equal(describeSeconds(86_400), "24 hours");
  assert.equal(describeSeconds(3_600), "1 hour");
  assert.equal(describeSeconds(7 * 86_400), "7 days");
  assert.equal(describeSeconds(1_800), "30 minutes");
  assert.equal(describeSeconds(5_000), "about 83 minutes");
  assert.equal(describeSeconds(45), "45 seconds");
});

test("relative times look both ways", () => {
  assert.equal(relativeTime(new Date(NOW + 3 * 86_400_000).toISOString(), NOW), "in 3 days");
  assert.equal(relativeTime(new Date(NOW - 2 * 3_600_000).toISOString(), NOW), "2 hours ago");
});
