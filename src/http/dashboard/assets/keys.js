// Keys: create (the secret is shown once), set limits and budgets, revoke — /admin/keys.
import { api, el, fmt, table, errorBox } from './api.js';

const RESETS = ['never', 'daily', 'weekly', 'monthly'];

// The form's values as a KeyChange: an empty field clears its limit (null).
function change(form, creating) {
  const v = name => form.elements[name].value.trim();
  const num = name => (v(name) === '' ? null : Number(v(name)));
  const body = {
    name: v('name'),
    budget_usd: num('budget_usd'),
    budget_reset: v('budget_reset'),
    rpm: num('rpm'),
    tpm: num('tpm'),
    max_concurrency: num('max_concurrency'),
    allowed_models: v('allowed_models') === '' ? null : v('allowed_models').split(',').map(s => s.trim()).filter(Boolean),
    expires_at: v('expires_at') === '' ? null : new Date(v('expires_at')).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  if (creating) for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
  return body;
}

function keyForm(id, key, submitLabel, onSubmit) {
  const input = (name, label, attrs = {}) => el('label', {}, label, el('input', { name, ...attrs }));
  const exp = key?.expires_at ? new Date(key.expires_at) : null;
  const local = exp ? new Date(exp.getTime() - exp.getTimezoneOffset() * 60000).toISOString().slice(0, 16) : '';
  const form = el('form', { class: 'grid card', id },
    input('name', 'Name', { required: true, value: key?.name ?? '', id: `${id}-name` }),
    input('budget_usd', 'Budget (USD)', { type: 'number', step: 'any', min: 0, value: key?.budget_usd ?? '' }),
    el('label', {}, 'Budget resets', el('select', { name: 'budget_reset' },
      RESETS.map(r => el('option', { value: r, selected: r === (key?.budget_reset ?? 'never') }, r)))),
    input('rpm', 'Requests / minute', { type: 'number', min: 1, value: key?.rpm ?? '' }),
    input('tpm', 'Tokens / minute', { type: 'number', min: 1, value: key?.tpm ?? '' }),
    input('max_concurrency', 'Max concurrent', { type: 'number', min: 1, value: key?.max_concurrency ?? '' }),
    input('allowed_models', 'Allowed models (comma-separated)', { value: (key?.allowed_models ?? []).join(', ') }),
    input('expires_at', 'Expires', { type: 'datetime-local', value: local }),
    el('button', { type: 'submit', class: 'primary', id: `${id}-submit` }, submitLabel));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    form.querySelector('.error')?.remove();
    try { await onSubmit(change(form, !key)); } catch (err) { form.append(errorBox(err)); }
  });
  return form;
}

export async function keys(main) {
  const created = el('div', { id: 'created' });
  const listBox = el('div', { id: 'keys-list' });
  const editor = el('div', { id: 'edit' });
  const form = keyForm('create-key', null, 'Create key', async body => {
    const k = await api('POST', '/admin/keys', body);
    form.reset();
    created.replaceChildren(el('div', { class: 'card' },
      el('p', {}, `Key “${k.name}” (${k.id}) created. `, el('strong', {}, 'Copy it now: it is shown only once.')),
      el('div', { class: 'secret', id: 'new-key-secret' }, k.key),
      el('p', {}, el('button', { id: 'created-done', onclick: () => created.replaceChildren() }, 'Done'))));
    await renderList();
  });
  main.append(el('h1', {}, 'Keys'), el('h2', {}, 'New key'), form, created, el('h2', {}, 'All keys'), listBox, editor);

  async function renderList() {
    const list = await api('GET', '/admin/keys');
    listBox.replaceChildren(table(
      ['Name', 'Id', 'Prefix', 'State', { label: 'Budget', num: 1 }, 'Resets', { label: 'Spent (period)', num: 1 }, { label: 'Remaining', num: 1 }, { label: 'Requests', num: 1 }, 'Limits', 'Models', 'Expires', ''],
      list.data.map(row),
      { id: 'keys-table' }));
  }

  function row(k) {
    const state = k.revoked_at ? 'revoked' : k.disabled ? 'disabled' : 'active';
    const revoke = el('button', { class: 'danger revoke', 'data-id': k.id }, 'Revoke');
    // Two clicks, so a slip does not revoke a key (and no modal dialog).
    revoke.addEventListener('click', async () => {
      if (revoke.dataset.armed) { await api('DELETE', `/admin/keys/${encodeURIComponent(k.id)}`); await renderList(); }
      else { revoke.dataset.armed = '1'; revoke.textContent = 'Confirm revoke'; }
    });
    const edit = el('button', { class: 'edit', onclick: () => {
      editor.replaceChildren(el('h2', {}, `Edit ${k.name}`),
        keyForm('edit-key', k, 'Save', async body => {
          await api('PATCH', `/admin/keys/${encodeURIComponent(k.id)}`, body);
          editor.replaceChildren();
          await renderList();
        }));
      editor.scrollIntoView();
    } }, 'Edit');
    const limits = [k.rpm && `${k.rpm} rpm`, k.tpm && `${k.tpm} tpm`, k.max_concurrency && `${k.max_concurrency} concurrent`].filter(Boolean).join(', ') || '–';
    return el('tr', { 'data-key-id': k.id },
      el('td', {}, k.name), el('td', {}, el('code', {}, k.id)), el('td', {}, el('code', {}, k.prefix)), el('td', {}, state),
      el('td', { class: 'num' }, fmt.usd(k.budget_usd)), el('td', {}, k.budget_reset),
      el('td', { class: 'num' }, fmt.usd(k.spend?.period_usd)), el('td', { class: 'num' }, fmt.usd(k.remaining_usd)),
      el('td', { class: 'num' }, fmt.int(k.spend?.requests)), el('td', {}, limits),
      el('td', {}, (k.allowed_models ?? []).join(', ') || 'all'), el('td', {}, fmt.time(k.expires_at)),
      el('td', {}, k.revoked_at ? '' : [edit, ' ', revoke]));
  }

  await renderList();
}
