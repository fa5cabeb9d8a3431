import fs from 'node:fs';

/**
 * The browser for the browser tests: CHROMIUM_PATH when set (it must be an executable), else the Chromium build that
 * the `@sparticuz/chromium` dev dependency ships inside its npm package, unpacked on first use. Nothing is downloaded
 * and no system package is needed, so the tests run on every machine `npm install` works on.
 */
export async function resolveChromium(): Promise<{ executablePath: string; args: string[] }> {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    try {
      fs.accessSync(configured, fs.constants.X_OK);
    } catch {
      throw new Error(`CHROMIUM_PATH=${configured} is not an executable`);
    }
    return { executablePath: configured, args: ['--disable-gpu', '--disable-quic', '--disable-component-update'] };
  }
  const { default: bundled } = await import('@sparticuz/chromium');
  // Not the package's own `args`: those suit a serverless sandbox and turn off web security and site isolation,
  // which the tests depend on. Root in a container needs --no-sandbox.
  return { executablePath: await bundled.executablePath(), args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-component-update', '--disable-dev-shm-usage'] };
}
