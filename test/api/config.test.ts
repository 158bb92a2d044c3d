import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('applies defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      dataDir: './.data',
      databaseUrl: undefined,
      adminApiKey: undefined,
      logLevel: 'info',
      temporal: { address: undefined, namespace: 'default', taskQueue: 'credits' },
      policy: { refundLotValidityDays: 30 },
    });
  });

  it('is deeply frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.temporal)).toBe(true);
    expect(Object.isFrozen(config.policy)).toBe(true);
  });

  it('parses given values and treats empty strings as unset', () => {
    const config = loadConfig({
      PORT: '8080', DATABASE_URL: 'postgres://u:p@db:5432/credits', LOG_LEVEL: 'debug', TEMPORAL_ADDRESS: '',
      REFUND_LOT_VALIDITY_DAYS: '45',
    });
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/credits');
    expect(config.logLevel).toBe('debug');
    expect(config.temporal.address).toBeUndefined();
    expect(config.policy.refundLotValidityDays).toBe(45);
  });

  it('fails fast naming every bad variable', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'http://x', ADMIN_API_KEY: 'short' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'ADMIN_API_KEY']) expect(message).toContain(name);
  });

  it('takes whole numbers in decimal digits only: a blank value is not 0, nor is hex or exponent notation accepted', () => {
    // Number(' ') is 0: PORT=' ' used to mean "any free port" and API_KEY_CACHE_SECONDS=' ' "no cache", silently.
    for (const bad of [' ', '\t', '0x50', '1e3']) {
      expect(() => loadConfig({ PORT: bad })).toThrow(/PORT/);
      expect(() => loadConfig({ API_KEY_CACHE_SECONDS: bad })).toThrow(/API_KEY_CACHE_SECONDS/);
    }
    expect(loadConfig({ PORT: ' 8080 ', API_KEY_CACHE_SECONDS: '0' })).toMatchObject({ port: 8080, api: { keyCacheSeconds: 0 } });
  });

  it('rejects a fractional or out-of-range port', () => {
    expect(() => loadConfig({ PORT: '3000.5' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(ConfigError);
  });

  it('SETTLEMENT_REFUNDED_REASONS takes failure reasons, deadline_exceeded and cancelled only, at least one', () => {
    expect(loadConfig({}).policy.settlement.refundedReasons)
      .toEqual(['system_error', 'platform_error', 'corrupted_output', 'deadline_exceeded', 'cancelled']);
    expect(loadConfig({ SETTLEMENT_REFUNDED_REASONS: ' system_error , cancelled' }).policy.settlement.refundedReasons)
      .toEqual(['system_error', 'cancelled']);
    expect(loadConfig({ SETTLEMENT_REFUNDED_REASONS: 'template_mismatch,deadline_exceeded' }).policy.settlement.refundedReasons)
      .toEqual(['template_mismatch', 'deadline_exceeded']);
    for (const bad of ['succeeded', 'system_error,hold_expired', ',', ' , ']) {
      expect(() => loadConfig({ SETTLEMENT_REFUNDED_REASONS: bad })).toThrow(/SETTLEMENT_REFUNDED_REASONS/);
    }
    expect(() => loadConfig({ SETTLEMENT_REFUNDED_REASONS: 'succeeded' })).toThrow(/must be one of system_error, .*cancelled/);
    expect(() => loadConfig({ SETTLEMENT_REFUNDED_REASONS: ',' })).toThrow(/must name at least one of/);
  });
});
