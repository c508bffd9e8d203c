// The ops console: plain browser JavaScript over /ops/api (admin bearer token from /v1/auth/login).
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN = 'asora-ops-token';
  let timer;
  const charts = {};

  const text = (v) => (v === null || v === undefined ? '–' : String(v));
  const cell = (row, value, cls) => {
    const td = document.createElement('td');
    td.textContent = text(value);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  };

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${sessionStorage.getItem(TOKEN) ?? ''}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(json.error?.message ?? `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return json;
  }

  function show(view) {
    $('login').hidden = view !== 'login';
    $('console').hidden = view !== 'console';
    $('refused').hidden = view !== 'refused';
    $('logout').hidden = view === 'login';
  }

  function refuse(message) {
    clearInterval(timer);
    $('refused').textContent = `Refused: ${message}`;
    show('refused');
  }

  async function redrive(selection, note) {
    const r = await api('POST', '/ops/api/outbox/redrive', selection);
    $('outbox-note').textContent =
      `${note}: redrove ${r.redriven} event(s); the relay picks them up on its next poll`;
    await refresh();
  }

  function renderOutbox({ status, events }) {
    $('c-pending').textContent = status.pending;
    $('c-failed').textContent = status.failed;
    $('c-dead').textContent = status.deadLettered;
    $('c-age').textContent = `${status.oldestPendingAgeSeconds.toFixed(1)} s`;
    const body = $('events');
    body.replaceChildren();
    if (events.length === 0) {
      const tr = body.insertRow();
      const td = cell(tr, 'no failed or dead-lettered events');
      td.colSpan = 7;
      td.className = 'note';
    }
    for (const e of events) {
      const tr = body.insertRow();
      tr.dataset.eventId = e.id;
      cell(tr, e.id, 'num');
      cell(tr, e.eventType);
      cell(tr, `${e.aggregateType} ${e.aggregateId}`);
      const dead = e.deadLetteredAt !== null;
      cell(tr, dead ? 'dead-lettered' : 'failed', dead ? 'state-dead' : 'state-failed');
      cell(tr, `${e.retryCount}/${e.maxRetries}`, 'num');
      cell(tr, e.lastError, 'err');
      const btn = document.createElement('button');
      btn.textContent = 'Redrive';
      btn.addEventListener('click', () => redrive({ ids: [e.id] }, `event ${e.id}`).catch(fail));
      cell(tr, '').appendChild(btn);
    }
  }

  function renderLeases({ processors, runsProcessors }) {
    const body = $('lease-rows');
    body.replaceChildren();
    if (!runsProcessors) {
      const td = cell(
        body.insertRow(),
        'this process runs no change-feed processors (asora serve)',
      );
      td.colSpan = 6;
      td.className = 'note';
    }
    for (const p of processors) {
      for (const l of p.leases) {
        const tr = body.insertRow();
        cell(tr, p.processor);
        cell(tr, p.container);
        cell(tr, l.leaseId);
        cell(tr, l.owner ?? 'free');
        cell(tr, l.lag, 'num');
        cell(tr, p.delaySeconds === null ? null : p.delaySeconds.toFixed(3), 'num');
      }
    }
  }

  function renderDrift({ last }) {
    const rows = $('drift-rows');
    const items = $('drift-items');
    rows.replaceChildren();
    items.replaceChildren();
    if (!last) return;
    $('drift-note').textContent =
      `last run ${last.at}${last.repaired ? ' (with repair)' : ''}: ${last.totalDrift} drifted`;
    for (const [kind, r] of Object.entries(last.report)) {
      if (r.checked === 0 && r.drift.length === 0) continue;
      const tr = rows.insertRow();
      cell(tr, kind);
      cell(tr, r.checked, 'num');
      cell(tr, r.drift.length, 'num');
      cell(tr, last.repaired ? r.repaired : '', 'num');
      for (const d of r.drift.slice(0, 20)) {
        const li = document.createElement('li');
        li.textContent = `${d.kind} ${d.id} ${d.problem}`;
        items.appendChild(li);
      }
    }
  }

  function chart(id, series, data) {
    const el = $(id);
    const width = Math.max(320, Math.min(540, (window.innerWidth - 120) / 2));
    if (!charts[id]) {
      charts[id] = new uPlot(
        { width, height: 180, series: [{}, ...series], axes: [{}, { size: 50 }] },
        data,
        el,
      );
    } else charts[id].setData(data);
  }

  function renderSeries({ points }) {
    const t = points.map((p) => p.t);
    chart(
      'chart-throughput',
      [{ label: 'events/s', stroke: '#2a6fdb', width: 2 }],
      [t, points.map((p) => p.processedPerSecond)],
    );
    chart(
      'chart-lag',
      [
        { label: 'outbox pending', stroke: '#b60', width: 2 },
        { label: 'change-feed lag', stroke: '#7a3fb0', width: 2 },
      ],
      [t, points.map((p) => p.pending), points.map((p) => p.changeFeedLag)],
    );
  }

  async function refresh() {
    const [outbox, leases, drift, series] = await Promise.all([
      api('GET', '/ops/api/outbox'),
      api('GET', '/ops/api/leases'),
      api('GET', '/ops/api/reconcile'),
      api('GET', '/ops/api/series'),
    ]);
    show('console');
    renderOutbox(outbox);
    renderLeases(leases);
    renderDrift(drift);
    renderSeries(series);
  }

  function fail(err) {
    if (err.status === 401) {
      sessionStorage.removeItem(TOKEN);
      clearInterval(timer);
      show('login');
      $('login-error').textContent = 'Your session ended: log in again.';
    } else if (err.status === 403) refuse(err.message);
    else $('outbox-note').textContent = `error: ${err.message}`;
  }

  function start() {
    clearInterval(timer);
    refresh().catch(fail);
    timer = setInterval(() => refresh().catch(fail), 5000);
  }

  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    $('login-error').textContent = '';
    try {
      const res = await fetch('/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(json.error?.message ?? `HTTP ${res.status}`);
      sessionStorage.setItem(TOKEN, json.accessToken);
      $('who').textContent = json.user.email;
      start();
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN);
    clearInterval(timer);
    $('who').textContent = '';
    show('login');
  });
  $('redrive-dead').addEventListener('click', () =>
    redrive({ deadLettered: true }, 'dead-lettered').catch(fail),
  );
  $('redrive-failed').addEventListener('click', () =>
    redrive({ failed: true }, 'failed').catch(fail),
  );
  const runReconcile = (repair) => async () => {
    $('drift-note').textContent = repair ? 'reconciling and repairing…' : 'reconciling…';
    try {
      renderDrift({ last: await api('POST', '/ops/api/reconcile', { repair }) });
    } catch (err) {
      fail(err);
    }
  };
  $('reconcile').addEventListener('click', runReconcile(false));
  $('reconcile-repair').addEventListener('click', runReconcile(true));

  if (sessionStorage.getItem(TOKEN)) start();
  else show('login');
})();
