import { Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ZapierModule } from 'nestjs-zapier';
import { Orders } from './orders.listener.js';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database: process.env.ZAPIER_DB ?? 'zapier.db',
      autoLoadEntities: true,
      synchronize: true, // quick start only: use the shipped migrations in production
    }),
    EventEmitterModule.forRoot(),
    ScheduleModule.forRoot(),
    ZapierModule.forRoot({
      accessToken: process.env.ZAPIER_TOKEN,
      callbackUrl: 'https://orders.example.com/zapier/callbacks', // where Zapier calls back
    }),
  ],
  providers: [Orders],
})
export class AppModule {}
