// Renderer entry: mounts the app shell. Loaded as an external module script (CSP `script-src 'self'`).
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

const target = document.getElementById('app');
if (target === null) throw new Error('index.html has no #app element');
mount(App, { target });
