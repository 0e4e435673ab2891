// Lighthouse on the status page, which is the answer to a post: a user flow types the two
// codes into the follow-up form and measures the navigation the button starts.
// node status-flow.mjs BASE_URL REFERENCE CODE OUTPUT.json
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';
import {startFlow} from 'lighthouse';

const [base, reference, code, output] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH,
  headless: 'new',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
const page = await browser.newPage();
await page.goto(`${base}/tra-cuu`);
await page.type('#reference', reference);
await page.type('#code', code);
const flow = await startFlow(page, {config: {extends: 'lighthouse:default',
  settings: {formFactor: 'mobile'}}});
await flow.startNavigation({name: 'status'});
await page.click('button[type=submit]');
await flow.endNavigation();
const result = await flow.createFlowResult();
fs.writeFileSync(output, JSON.stringify(result.steps[0].lhr));
await browser.close();
