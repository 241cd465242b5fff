"""Ledgers in and out: the Excel or CSV order ledger (订单台账) a company keeps today, read into orders.

``reading`` finds the header row of a real ledger (below titles and blank rows, over merged
group headers) and which column holds what; ``values`` reads its cells (dates of every
kind people type, phone numbers, full-width text); ``importer`` plans each row against the
database, reports every problem by row and column, writes the ledger back with what is
wrong with each bad row, and applies the rest, a row at a time, through the progress engine.
It stands on ``models`` only; the CLI (`orderbot import`) and the console use it alike.
"""
