// Progressive behaviour of the dashboard: every page works without it.
//  - buttons with data-confirm ask before their form is posted;
//  - tables with data-poll (instances, volumes, snapshots, images,
//    addresses) refresh their rows from the dashboard's JSON endpoint
//    (data-poll-key names the list in its answer) every few seconds: the
//    state cell (and aria-busy while work is under way), the cells marked
//    data-field, and which elements marked data-when (the states they fit)
//    or data-lock (locked or unlocked) are shown, in the row and in
//    elements marked data-poll-item with the row's id.

function confirmations() {
  document.addEventListener("submit", (event) => {
    const button = event.submitter || event.target.querySelector("button[data-confirm]");
    const question = button && button.dataset ? button.dataset.confirm : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
}

function text(cell, value) {
  if (cell && cell.textContent !== value) {
    cell.textContent = value;
  }
}

function show(value) {
  if (value === null || value === undefined) {
    return "";
  }
  if (Array.isArray(value)) {
    return value.join(", ");
  }
  if (value === true || value === false) {
    return value ? "yes" : "no";
  }
  return String(value);
}

// Shows the elements of scope that fit state and locked.
function fit(scope, state, locked) {
  for (const element of scope.querySelectorAll("[data-when], [data-lock]")) {
    let visible = true;
    if (element.dataset.when !== undefined) {
      visible = element.dataset.when.split(" ").includes(state);
    }
    if (element.dataset.lock === "locked" && !locked) {
      visible = false;
    }
    if (element.dataset.lock === "unlocked" && locked) {
      visible = false;
    }
    element.hidden = !visible;
  }
}

// Brings one row (and the elements that belong to it) up to item; an item
// that is gone has the state "deleted".  Returns whether its state changed.
function update(row, item) {
  const scopes = [row, ...document.querySelectorAll(`[data-poll-item="${CSS.escape(row.dataset.id)}"]`)];
  const state = row.querySelector('[data-field="state"], .state');
  let changed = false;
  if (state && state.dataset.state !== item.state) {
    state.dataset.state = item.state;
    text(state, item.state);
    changed = true;
  }
  if (state) {
    if (item.busy) {
      state.setAttribute("aria-busy", "true");
    } else {
      state.removeAttribute("aria-busy");
    }
  }
  for (const cell of row.querySelectorAll("[data-field]")) {
    const name = cell.dataset.field;
    if (name !== "state" && name in item) {
      text(cell, show(item[name]));
    }
  }
  const locked = item.locked === true;
  for (const scope of scopes) {
    if ("locked" in item) {
      scope.dataset.locked = String(locked);
    }
    fit(scope, item.state, locked);
  }
  return changed;
}

function poll(table) {
  const url = table.dataset.poll;
  const key = table.dataset.pollKey || table.id;
  const live = table.querySelector(".live");
  const rows = () => [...table.querySelectorAll("tbody tr[data-id]")];
  const known = new Set(rows().map((r) => r.dataset.id));
  let delay = 2000;
  async function once() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 403 || response.status === 401) {
        text(live, "Session ended: reload the page to log in again.");
        return;
      }
      const body = await response.json();
      if (!response.ok || !Array.isArray(body[key])) {
        text(live, body.error || "Could not refresh this list.");
      } else {
        const seen = new Set();
        for (const item of body[key]) {
          seen.add(item.id);
          const row = table.querySelector(`tbody tr[data-id="${CSS.escape(item.id)}"]`);
          if (row && update(row, item)) {
            text(live, `${item.id} is ${item.state}.`);
          }
        }
        for (const row of rows()) {
          if (!seen.has(row.dataset.id) && update(row, { state: "deleted", busy: false })) {
            text(live, `${row.dataset.id} is gone.`);
          }
        }
        const added = [...seen].filter((id) => !known.has(id));
        if (added.length && !("pollOne" in table.dataset)) {
          text(live, `New: ${added.join(", ")} (reload to see them).`);
        }
      }
      delay = 2000;
    } catch (error) {
      delay = Math.min(delay * 2, 30000);
    }
    window.setTimeout(once, delay);
  }
  window.setTimeout(once, delay);
}

confirmations();
for (const table of document.querySelectorAll("table[data-poll]")) {
  poll(table);
}
for (const back of document.querySelectorAll("a[data-back]")) {
  back.addEventListener("click", (event) => { event.preventDefault(); history.back(); });
}
