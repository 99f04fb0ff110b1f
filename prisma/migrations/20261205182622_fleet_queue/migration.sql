-- AlterEnum
ALTER TYPE "run_status" ADD VALUE 'skipped';

-- AlterEnum
ALTER TYPE "run_trigger" ADD VALUE 'queue';
