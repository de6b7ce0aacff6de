import { assertEquals, assertIncludes } from "./_fixtures/assert.ts";
import { RUNTIME_ENV } from "../lib/permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("systemd: both units pass systemd-analyze verify", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const units: string[] = [];
    for (const name of ["docker-balancer", "docker-glue"]) {
      // verify checks that ExecStart exists; point it at a stand-in.
      await Deno.writeTextFile(`${dir}/${name}`, "#!/bin/sh\n");
      await Deno.chmod(`${dir}/${name}`, 0o755);
      const unit = await Deno.readTextFile(`${ROOT}systemd/${name}.service`);
      assertIncludes(unit, `ExecStart=/usr/bin/${name} -w`);
      await Deno.writeTextFile(
        `${dir}/${name}.service`,
        unit.replace(`/usr/bin/${name}`, `${dir}/${name}`),
      );
      units.push(`${dir}/${name}.service`);
    }
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", ...units],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr) +
      new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, text);
    assertEquals(text.trim(), "", "systemd-analyze printed warnings");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemd: units wait for Docker, restart on failure and are hardened", async () => {
  for (const name of ["docker-balancer", "docker-glue"]) {
    const unit = await Deno.readTextFile(`${ROOT}systemd/${name}.service`);
    for (
      const line of [
        "Requires=docker.service",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
      ]
    ) assertIncludes(unit, line);
    assertIncludes(unit, "ReadWritePaths=/etc/haproxy");
  }
  const balancer = await Deno.readTextFile(
    `${ROOT}systemd/docker-balancer.service`,
  );
  // One unit runs both docker-balancer and the HAProxy it manages.
  assertIncludes(balancer, "Conflicts=haproxy.service");
  assertIncludes(balancer, "KillMode=mixed");
  assertIncludes(balancer, "RuntimeDirectory=haproxy");
  assertIncludes(balancer, "PrivateTmp=yes");
});

Deno.test("systemd: units run the binaries with their runtime environment", async () => {
  for (const name of ["docker-balancer", "docker-glue"]) {
    const unit = await Deno.readTextFile(`${ROOT}systemd/${name}.service`);
    for (const [key, value] of Object.entries(RUNTIME_ENV)) {
      assertIncludes(unit, `\nEnvironment=${key}=${value}\n`);
    }
  }
});
