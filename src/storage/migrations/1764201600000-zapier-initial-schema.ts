import type { MigrationInterface, QueryRunner } from 'typeorm';

const POSTGRES_UP = [
  `CREATE TABLE "zapier_action_runs" ("run_id" character varying(255) NOT NULL, "status" character varying(16) NOT NULL, "action" character varying(255), "metadata" text, "results" text, "errors" text, "raw_payload" text, "source" character varying(16), "expired_reason" character varying(32), "submitted_at" bigint, "received_at" bigint, "completed_at" bigint, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "poll_next_at" bigint, "poll_attempts" integer NOT NULL DEFAULT '0', "poll_claimed_by" character varying(255), "poll_claim_until" bigint, "poll_last_error" text, "delivery_state" character varying(16) NOT NULL DEFAULT 'none', "delivery_attempts" integer NOT NULL DEFAULT '0', "delivery_next_at" bigint, "delivery_claimed_by" character varying(255), "delivery_claim_until" bigint, "delivery_last_error" text, "delivered_at" bigint, CONSTRAINT "PK_6a5345d4375fb10012d2d55d3ea" PRIMARY KEY ("run_id"))`,
  `CREATE INDEX "IDX_zapier_action_runs_delivery" ON "zapier_action_runs" ("delivery_next_at") WHERE "delivery_state" = 'pending'`,
  `CREATE INDEX "IDX_zapier_action_runs_poll" ON "zapier_action_runs" ("poll_next_at") WHERE "status" = 'pending'`,
  `CREATE TABLE "zapier_callback_quarantine" ("id" SERIAL NOT NULL, "run_id" character varying(255), "reason" text NOT NULL, "raw_body" text NOT NULL, "received_at" bigint NOT NULL, CONSTRAINT "PK_69cbf8f3802c4dcff5f120a030f" PRIMARY KEY ("id"))`,
  `CREATE TABLE "zapier_api_budget" ("budget_key" character varying(64) NOT NULL, "next_slot_at" bigint NOT NULL DEFAULT '0', "cooldown_until" bigint NOT NULL DEFAULT '0', "creates_inflight" integer NOT NULL DEFAULT '0', "creates_inflight_until" bigint NOT NULL DEFAULT '0', CONSTRAINT "PK_6ef51b99be621aea1c39ba5472b" PRIMARY KEY ("budget_key"))`,
];

const SQLITE_UP = [
  `CREATE TABLE "zapier_action_runs" ("run_id" varchar(255) PRIMARY KEY NOT NULL, "status" varchar(16) NOT NULL, "action" varchar(255), "metadata" text, "results" text, "errors" text, "raw_payload" text, "source" varchar(16), "expired_reason" varchar(32), "submitted_at" bigint, "received_at" bigint, "completed_at" bigint, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "poll_next_at" bigint, "poll_attempts" integer NOT NULL DEFAULT (0), "poll_claimed_by" varchar(255), "poll_claim_until" bigint, "poll_last_error" text, "delivery_state" varchar(16) NOT NULL DEFAULT ('none'), "delivery_attempts" integer NOT NULL DEFAULT (0), "delivery_next_at" bigint, "delivery_claimed_by" varchar(255), "delivery_claim_until" bigint, "delivery_last_error" text, "delivered_at" bigint)`,
  `CREATE INDEX "IDX_zapier_action_runs_delivery" ON "zapier_action_runs" ("delivery_next_at") WHERE "delivery_state" = 'pending'`,
  `CREATE INDEX "IDX_zapier_action_runs_poll" ON "zapier_action_runs" ("poll_next_at") WHERE "status" = 'pending'`,
  `CREATE TABLE "zapier_callback_quarantine" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "run_id" varchar(255), "reason" text NOT NULL, "raw_body" text NOT NULL, "received_at" bigint NOT NULL)`,
  `CREATE TABLE "zapier_api_budget" ("budget_key" varchar(64) PRIMARY KEY NOT NULL, "next_slot_at" bigint NOT NULL DEFAULT (0), "cooldown_until" bigint NOT NULL DEFAULT (0), "creates_inflight" integer NOT NULL DEFAULT (0), "creates_inflight_until" bigint NOT NULL DEFAULT (0))`,
];

/**
 * MySQL and MariaDB. TypeORM gives an entity one column type on every database, so two things
 * here differ from what it would generate, on purpose (the schema spec pins exactly these):
 * payloads are LONGTEXT, not TEXT (64 KB; a callback may be 20 MB), and every table is utf8mb4
 * with a binary collation without padding, so run ids compare exactly as Zapier sends them (the
 * servers' default collations ignore case and trailing spaces). `collation` is the first of
 * `MYSQL_COLLATIONS` the server has.
 */
const mysqlUp = (collation: string) => {
  const table = `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`;
  return [
    `CREATE TABLE \`zapier_action_runs\` (\`run_id\` varchar(255) NOT NULL, \`status\` varchar(16) NOT NULL, \`action\` varchar(255) NULL, \`metadata\` longtext NULL, \`results\` longtext NULL, \`errors\` longtext NULL, \`raw_payload\` longtext NULL, \`source\` varchar(16) NULL, \`expired_reason\` varchar(32) NULL, \`submitted_at\` bigint NULL, \`received_at\` bigint NULL, \`completed_at\` bigint NULL, \`created_at\` bigint NOT NULL, \`updated_at\` bigint NOT NULL, \`poll_next_at\` bigint NULL, \`poll_attempts\` int NOT NULL DEFAULT '0', \`poll_claimed_by\` varchar(255) NULL, \`poll_claim_until\` bigint NULL, \`poll_last_error\` text NULL, \`delivery_state\` varchar(16) NOT NULL DEFAULT 'none', \`delivery_attempts\` int NOT NULL DEFAULT '0', \`delivery_next_at\` bigint NULL, \`delivery_claimed_by\` varchar(255) NULL, \`delivery_claim_until\` bigint NULL, \`delivery_last_error\` text NULL, \`delivered_at\` bigint NULL, INDEX \`IDX_zapier_action_runs_delivery\` (\`delivery_next_at\`), INDEX \`IDX_zapier_action_runs_poll\` (\`poll_next_at\`), PRIMARY KEY (\`run_id\`)) ${table}`,
    `CREATE TABLE \`zapier_api_budget\` (\`budget_key\` varchar(64) NOT NULL, \`next_slot_at\` bigint NOT NULL DEFAULT '0', \`cooldown_until\` bigint NOT NULL DEFAULT '0', \`creates_inflight\` int NOT NULL DEFAULT '0', \`creates_inflight_until\` bigint NOT NULL DEFAULT '0', PRIMARY KEY (\`budget_key\`)) ${table}`,
    `CREATE TABLE \`zapier_callback_quarantine\` (\`id\` int NOT NULL AUTO_INCREMENT, \`run_id\` varchar(255) NULL, \`reason\` text NOT NULL, \`raw_body\` longtext NOT NULL, \`received_at\` bigint NOT NULL, PRIMARY KEY (\`id\`)) ${table}`,
  ];
};

/** MariaDB 10.2+, MySQL 8.0+, and the padded one both have, in that order of preference. */
const MYSQL_COLLATIONS = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin'];

const MYSQL_DOWN = [
  'DROP TABLE `zapier_api_budget`',
  'DROP TABLE `zapier_callback_quarantine`',
  'DROP TABLE `zapier_action_runs`',
];

const DOWN = [
  `DROP TABLE "zapier_api_budget"`,
  `DROP TABLE "zapier_callback_quarantine"`,
  `DROP INDEX "IDX_zapier_action_runs_poll"`,
  `DROP INDEX "IDX_zapier_action_runs_delivery"`,
  `DROP TABLE "zapier_action_runs"`,
];

/**
 * Creates the module's tables on PostgreSQL, SQLite, MySQL or MariaDB. The DDL is what TypeORM
 * generates for the entities, so `synchronize` finds nothing to change afterwards (a spec checks
 * it), except on MySQL and MariaDB where the payload columns are wider than TypeORM can say (see
 * `mysqlUp`).
 *
 * @publicApi
 */
export class ZapierInitialSchema1764201600000 implements MigrationInterface {
  name = 'ZapierInitialSchema1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of await upStatements(queryRunner)) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const statements = isMysql(queryRunner) ? MYSQL_DOWN : DOWN;
    for (const statement of statements) await queryRunner.query(statement);
  }
}

const isMysql = (queryRunner: QueryRunner): boolean =>
  ['mysql', 'mariadb'].includes(queryRunner.connection.options.type);

async function upStatements(queryRunner: QueryRunner): Promise<string[]> {
  if (queryRunner.connection.options.type === 'postgres') return POSTGRES_UP;
  if (!isMysql(queryRunner)) return SQLITE_UP;
  const rows = (await queryRunner.query(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (${MYSQL_COLLATIONS.map(() => '?').join(', ')})`,
    MYSQL_COLLATIONS,
  )) as Array<{ name: string }>;
  const available = new Set(rows.map((row) => row.name));
  return mysqlUp(MYSQL_COLLATIONS.find((name) => available.has(name)) ?? 'utf8mb4_bin');
}
