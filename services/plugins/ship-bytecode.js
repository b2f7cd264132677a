'use strict';

// Ships each module's bytecode in the deployment zip (ship_bytecode.py beside this file).
//
// Lambda's /var/task is read-only, so Python cannot cache bytecode there, and the packages
// hold only sources (serverless-python-requirements `slim` and the package patterns drop
// __pycache__): every cold start would compile every module it imports. Once the zip is
// complete (after serverless-python-requirements has added the requirements: list this
// plugin after it), the packaging Python (custom.pythonRequirements.pythonBin) adds a
// `__pycache__/<name>.cpython-311.pyc` beside every `.py`. It fails the packaging if that
// Python is not the functions' runtime version.

const path = require('path');
const { spawnSync } = require('child_process');

const SCRIPT = path.join(__dirname, 'ship_bytecode.py');

class ShipBytecode {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'after:package:createDeploymentArtifacts': () => this.shipBytecode(),
      'after:deploy:function:packageFunction': () => this.shipBytecode(),
    };
  }

  // The one Python runtime of the service's functions.
  runtime() {
    const service = this.serverless.service;
    const runtimes = new Set(
      Object.values(service.functions || {}).map((f) => f.runtime || service.provider.runtime)
    );
    if (runtimes.size !== 1 || !/^python\d+\.\d+$/.test([...runtimes][0])) {
      throw new Error(`ship-bytecode needs one Python runtime, found ${[...runtimes]}`);
    }
    return [...runtimes][0];
  }

  // The zips osls made: the service's, and any function's own.
  artifacts() {
    const service = this.serverless.service;
    const artifacts = [
      service.package.artifact,
      ...Object.values(service.functions || {}).map((f) => f.package && f.package.artifact),
    ];
    return [
      ...new Set(
        artifacts
          .filter((a) => a && a.endsWith('.zip'))
          .map((a) => path.resolve(this.serverless.serviceDir, a))
      ),
    ];
  }

  shipBytecode() {
    const custom = this.serverless.service.custom || {};
    const python =
      (custom.pythonRequirements && custom.pythonRequirements.pythonBin) ||
      process.env.PYTHON_BIN ||
      'python3';
    const artifacts = this.artifacts();
    if (artifacts.length === 0) throw new Error('ship-bytecode found no package to add to');
    const result = spawnSync(python, [SCRIPT, this.runtime(), ...artifacts], {
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      throw new Error(
        `ship-bytecode failed (${python}): ${result.error || ''}${result.stderr}${result.stdout}`
      );
    }
    this.serverless.cli.log(result.stdout.trim());
  }
}

module.exports = ShipBytecode;
