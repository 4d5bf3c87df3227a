// The page's router: one view per hash (#overview, #requests, #request/ID, ...).
import { errorBox } from './api.js';
import { overview } from './overview.js';
import { breakdown } from './breakdown.js';
import { requests, requestDetail } from './requests.js';
import { keys } from './keys.js';
import { providers } from './providers.js';

const views = { overview, breakdown, requests, request: requestDetail, keys, providers };

async function route() {
  const [name, ...rest] = (location.hash.slice(1) || 'overview').split('/');
  const view = views[name] ?? overview;
  for (const a of document.querySelectorAll('nav a')) {
    const target = a.getAttribute('href').slice(1);
    a.classList.toggle('active', target === name || (name === 'request' && target === 'requests'));
  }
  const main = document.getElementById('main');
  main.replaceChildren();
  main.dataset.view = name;
  try {
    await view(main, decodeURIComponent(rest.join('/')));
  } catch (e) {
    main.append(errorBox(e));
  }
}

window.addEventListener('hashchange', route);
route();
